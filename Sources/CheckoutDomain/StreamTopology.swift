/// The Redis streams Chorus uses and how events are spread over them.
///
/// Checkout events are partitioned by `checkout_id`: every event of one checkout lands on the
/// same stream, so every consumer group sees a checkout's events in causal order. Reference data
/// (stores, products, stock arrivals, customers) is one stream, so that its order is total.
public struct StreamTopology: Sendable, Hashable {
    /// The first part of every key, so that several systems (or tests) can share one Redis.
    public var prefix: String
    /// How many streams checkout events are spread over.
    public var checkoutPartitions: Int

    public init(prefix: String = "chorus", checkoutPartitions: Int = 4) {
        self.prefix = prefix
        self.checkoutPartitions = max(1, checkoutPartitions)
    }

    /// The reference-data stream.
    public var referenceStream: String { "\(prefix):reference" }
    /// Where entries that cannot be processed go, with their reason.
    public var deadLetterStream: String { "\(prefix):dead-letter" }

    /// The stream of checkout partition `partition`.
    public func checkoutStream(partition: Int) -> String { "\(prefix):checkouts:\(partition)" }

    /// Every checkout partition's stream.
    public var checkoutStreams: [String] { (0..<checkoutPartitions).map(checkoutStream(partition:)) }

    /// Every stream that carries events (not the dead-letter stream).
    public var eventStreams: [String] { checkoutStreams + [referenceStream] }

    /// The streams a worker reads. Reference data comes first, so that within one batch a store
    /// paused or stock received is applied before the checkout events read with it.
    public func streams(readBy worker: Worker) -> [String] {
        var streams: [String] = []
        if worker.readsReferenceStream { streams.append(referenceStream) }
        if worker.readsCheckoutStreams { streams += checkoutStreams }
        return streams
    }

    /// The stream an event is published to.
    public func stream(for event: DomainEvent) -> String {
        guard let checkoutID = event.checkoutID else { return referenceStream }
        return checkoutStream(partition: Self.partition(of: checkoutID, among: checkoutPartitions))
    }

    /// A stable partition for a checkout id: FNV-1a, so that every process and version agrees.
    public static func partition(of checkoutID: String, among partitions: Int) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in checkoutID.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int(hash % UInt32(max(1, partitions)))
    }
}

/// The services that consume streams. Each one's consumer group is named after it, so that
/// `XINFO GROUPS` reads naturally.
public enum Worker: String, CaseIterable, Sendable, Codable {
    case checkoutAPI = "checkout-api"
    case eventStore = "event-store"
    case stockReservation = "stock-reservation"
    case payment
    case orderCreation = "order-creation"
    case compensation
    case audit
    case cqrsProjection = "cqrs-projection"

    /// The consumer group's name.
    public var groupName: String { rawValue }

    /// The events this worker acts on; it acknowledges every other event without effect.
    public var handles: Set<EventType> {
        switch self {
        case .checkoutAPI:
            [.storeOpened, .storePaused, .storeResumed, .productRegistered, .productRepriced, .customerRegistered,
             .checkoutCompleted, .checkoutFailed]
        case .eventStore, .audit, .cqrsProjection:
            Set(EventType.allCases)
        case .stockReservation:
            [.stockReceived, .checkoutInitiated, .stockReleased, .orderCreated]
        case .payment:
            [.customerRegistered, .accountCredited, .stockReserved, .paymentRefunded]
        case .orderCreation:
            [.storeOpened, .storePaused, .storeResumed, .paymentAuthorized]
        case .compensation:
            [.stockReservationFailed, .paymentDeclined, .orderRejected]
        }
    }

    /// The events this worker publishes.
    public var emits: Set<EventType> {
        switch self {
        case .checkoutAPI:
            Set(EventType.allCases.filter(\.isReferenceData)).union([.checkoutInitiated])
        case .eventStore, .audit, .cqrsProjection:
            []
        case .stockReservation:
            [.stockReserved, .stockReservationFailed]
        case .payment:
            [.paymentAuthorized, .paymentDeclined]
        case .orderCreation:
            [.orderCreated, .orderRejected, .checkoutCompleted]
        case .compensation:
            [.paymentRefunded, .stockReleased, .checkoutFailed]
        }
    }

    /// Whether the worker only records what happened (the event store, the audit trail, the
    /// read models): it emits nothing, so no step of a saga waits on it.
    public var isObserver: Bool { emits.isEmpty }

    /// Whether a step of a saga waits on this worker's consumer. Not for the observers, nor for
    /// checkout-api, whose consumer only keeps its catalogue (which its own admin requests write
    /// through at once) and the outcomes a repeated request answers: such a consumer may wait a
    /// little for larger batches.
    public var isOnTheSagasPath: Bool { !isObserver && self != .checkoutAPI }

    var readsCheckoutStreams: Bool { handles.contains { !$0.isReferenceData } }
    var readsReferenceStream: Bool { handles.contains { $0.isReferenceData } }
}
