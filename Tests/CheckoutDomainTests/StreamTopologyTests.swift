import Testing

@testable import CheckoutDomain

@Suite("StreamTopology")
struct StreamTopologyTests {
    static let topology = StreamTopology()
    static let checkouts = ["chorus:checkouts:0", "chorus:checkouts:1", "chorus:checkouts:2", "chorus:checkouts:3"]

    // MARK: Names

    @Test("by default, four checkout streams and one reference stream under the prefix chorus")
    func defaultNames() {
        let topology = StreamTopology()
        #expect(topology.prefix == "chorus")
        #expect(topology.checkoutPartitions == 4)
        #expect(topology.referenceStream == "chorus:reference")
        #expect(topology.deadLetterStream == "chorus:dead-letter")
        #expect(topology.checkoutStreams == Self.checkouts)
        #expect(topology.eventStreams == Self.checkouts + ["chorus:reference"])
    }

    @Test("every stream name starts with the prefix")
    func customPrefix() {
        let topology = StreamTopology(prefix: "test-7", checkoutPartitions: 2)
        #expect(topology.referenceStream == "test-7:reference")
        #expect(topology.deadLetterStream == "test-7:dead-letter")
        #expect(topology.checkoutStream(partition: 1) == "test-7:checkouts:1")
        #expect(topology.checkoutStreams == ["test-7:checkouts:0", "test-7:checkouts:1"])
        #expect(topology.eventStreams == ["test-7:checkouts:0", "test-7:checkouts:1", "test-7:reference"])
    }

    @Test("the dead-letter stream carries no events", arguments: [1, 4, 16])
    func deadLetterIsNotAnEventStream(partitions: Int) {
        let topology = StreamTopology(checkoutPartitions: partitions)
        #expect(!topology.eventStreams.contains(topology.deadLetterStream))
        #expect(topology.eventStreams.count == partitions + 1)
        #expect(Set(topology.eventStreams).count == partitions + 1)
    }

    @Test("there is always at least one checkout partition", arguments: [0, -1, -100])
    func atLeastOnePartition(partitions: Int) {
        let topology = StreamTopology(checkoutPartitions: partitions)
        #expect(topology.checkoutPartitions == 1)
        #expect(topology.checkoutStreams == ["chorus:checkouts:0"])
    }

    // MARK: Partitioning

    @Test(
        "the partition is 32-bit FNV-1a of the checkout id, the same in every process and version",
        arguments: [
            // Computed once with an independent FNV-1a implementation.
            ("", 4, 1), ("a", 4, 0), ("co-1", 4, 1), ("checkout-42", 4, 2),
            ("5f0c3b1e-0000-4000-8000-000000000001", 4, 3), ("5f0c3b1e-0000-4000-8000-000000000001", 8, 7),
            ("co-1", 8, 5), ("checkout-42", 3, 2), ("co-1", 3, 0),
        ]
    )
    func partitionValues(checkoutID: String, partitions: Int, expected: Int) {
        #expect(StreamTopology.partition(of: checkoutID, among: partitions) == expected)
    }

    @Test("the partition is always in range", arguments: [1, 2, 3, 4, 7, 16, 1_000])
    func partitionInRange(partitions: Int) {
        for index in 0..<2_000 {
            let id = EventIdentity.derived(from: "range", index: index)
            #expect((0..<partitions).contains(StreamTopology.partition(of: id, among: partitions)))
        }
    }

    @Test("checkouts spread over every partition")
    func partitionsAreAllUsed() {
        let used = Set((0..<200).map { StreamTopology.partition(of: EventIdentity.checkoutID(idempotencyKey: "k\($0)"), among: 4) })
        #expect(used == [0, 1, 2, 3])
    }

    @Test("one partition, or a nonsensical count, puts everything in partition 0", arguments: [1, 0, -3])
    func singlePartition(partitions: Int) {
        for id in ["", "co-1", "checkout-42", EventIdentity.random()] {
            #expect(StreamTopology.partition(of: id, among: partitions) == 0)
        }
    }

    @Test("every event of one checkout goes to the stream of its partition")
    func checkoutEventsShareAStream() {
        for checkoutID in ["co-1", "checkout-42", "5f0c3b1e-0000-4000-8000-000000000001"] {
            let expected = Self.topology.checkoutStream(partition: StreamTopology.partition(of: checkoutID, among: 4))
            let streams = Set(Fixture.sagaTypes.map { Self.topology.stream(for: Fixture.sample($0, checkoutID: checkoutID)) })
            #expect(streams == [expected])
        }
    }

    @Test("reference events go to the reference stream", arguments: Fixture.referenceTypes)
    func referenceEventsGoToTheReferenceStream(type: EventType) {
        #expect(Self.topology.stream(for: Fixture.sample(type)) == "chorus:reference")
        #expect(StreamTopology(prefix: "p", checkoutPartitions: 9).stream(for: Fixture.sample(type)) == "p:reference")
    }

    // MARK: Who reads what

    @Test(
        "each worker reads the reference stream first when it needs reference data, then the checkout streams when it needs those",
        arguments: [
            (Worker.checkoutAPI, ["chorus:reference"] + checkouts),
            (.eventStore, ["chorus:reference"] + checkouts),
            (.stockReservation, ["chorus:reference"] + checkouts),
            (.payment, ["chorus:reference"] + checkouts),
            (.orderCreation, ["chorus:reference"] + checkouts),
            (.compensation, checkouts),
            (.audit, ["chorus:reference"] + checkouts),
            (.cqrsProjection, ["chorus:reference"] + checkouts),
        ]
    )
    func streamsReadBy(worker: Worker, expected: [String]) {
        #expect(Self.topology.streams(readBy: worker) == expected)
    }

    @Test("a worker reads every stream any event it handles is published to", arguments: Worker.allCases)
    func workersReadWhatTheyHandle(worker: Worker) {
        let read = Set(Self.topology.streams(readBy: worker))
        for type in worker.handles {
            for checkoutID in ["co-1", "checkout-42", "a", ""] {
                #expect(read.contains(Self.topology.stream(for: Fixture.sample(type, checkoutID: checkoutID))), "\(type)")
            }
        }
    }

    @Test("a worker reads no stream that carries nothing it handles", arguments: Worker.allCases)
    func workersReadNothingNeedless(worker: Worker) {
        let read = Self.topology.streams(readBy: worker)
        #expect(read.contains("chorus:reference") == worker.handles.contains(where: \.isReferenceData))
        #expect(read.contains("chorus:checkouts:0") == worker.handles.contains(where: { !$0.isReferenceData }))
    }

    // MARK: Workers

    static let recorders: Set<Worker> = [.eventStore, .audit, .cqrsProjection]
    static let terminal: Set<EventType> = [.checkoutCompleted, .checkoutFailed]

    @Test("each worker's consumer group is named after it")
    func groupNames() {
        #expect(
            Worker.allCases.map(\.groupName)
                == ["checkout-api", "event-store", "stock-reservation", "payment", "order-creation", "compensation", "audit", "cqrs-projection"])
        for worker in Worker.allCases {
            #expect(worker.groupName == worker.rawValue)
        }
    }

    @Test("the event store, audit and the projection handle every event type and emit none", arguments: [Worker.eventStore, .audit, .cqrsProjection])
    func recordersHandleEverything(worker: Worker) {
        #expect(worker.handles == Set(EventType.allCases))
        #expect(worker.emits.isEmpty)
    }

    @Test("every emitted event is acted on by some service unless it ends the saga", arguments: EventType.allCases)
    func everyEventHasAConsumer(type: EventType) {
        let actors = Worker.allCases.filter { !Self.recorders.contains($0) && $0.handles.contains(type) }
        #expect(!actors.isEmpty || Self.terminal.contains(type), "\(type) is handled by nobody")
    }

    @Test("each event type is published by exactly one worker", arguments: EventType.allCases)
    func singleProducer(type: EventType) {
        #expect(Worker.allCases.filter { $0.emits.contains(type) }.count == 1)
    }

    @Test("the checkout API publishes reference data and starts checkouts")
    func checkoutAPIEmits() {
        #expect(Worker.checkoutAPI.emits == Set(Fixture.referenceTypes).union([.checkoutInitiated]))
    }

    @Test("the choreography: each step is handled by the service that takes the next one")
    func choreography() {
        #expect(Worker.stockReservation.handles.contains(.checkoutInitiated))
        #expect(Worker.payment.handles.contains(.stockReserved))
        #expect(Worker.orderCreation.handles.contains(.paymentAuthorized))
        #expect(Worker.stockReservation.handles.contains(.orderCreated))
        #expect(Worker.stockReservation.handles.contains(.stockReleased))
        #expect(Worker.payment.handles.contains(.paymentRefunded))
        #expect(Worker.orderCreation.handles.isSuperset(of: [.storeOpened, .storePaused, .storeResumed]))
        #expect(Worker.stockReservation.handles.contains(.stockReceived))
        #expect(Worker.payment.handles.isSuperset(of: [.customerRegistered, .accountCredited]))
    }

    @Test("the compensation service handles exactly the failures it has a plan for", arguments: EventType.allCases)
    func compensationHandlesItsFailures(type: EventType) {
        let hasPlan = !CompensationRule.plan(for: Fixture.sample(type)).isEmpty
        #expect(Worker.compensation.handles.contains(type) == hasPlan)
    }

    @Test("a worker emits only what its rules produce")
    func emitsMatchRules() {
        let facts = Fixture.facts()
        let reservations = [StockReservationRule.decide(facts, available: [:]), StockReservationRule.decide(facts, available: ["sku-a": 9, "sku-b": 9])]
        #expect(Set(reservations.map(\.type)) == Worker.stockReservation.emits)
        let payments = [PaymentRule.decide(facts, balanceCents: nil), PaymentRule.decide(facts, balanceCents: 1_000_000)]
        #expect(Set(payments.map(\.type)) == Worker.payment.emits)
        let authorized = PaymentAuthorized(checkout: facts, paymentID: Fixture.paymentID, amountCents: facts.totalCents)
        let orders = OrderCreationRule.decide(authorized, storeIsPaused: false) + OrderCreationRule.decide(authorized, storeIsPaused: true)
        #expect(Set(orders.map(\.type)) == Worker.orderCreation.emits)
        let plans = Fixture.sagaTypes.flatMap { CompensationRule.plan(for: Fixture.sample($0)) }
        #expect(Set(plans.map(\.type)) == Worker.compensation.emits)
    }
}
