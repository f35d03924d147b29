import Foundation
import Testing

@testable import CheckoutDomain

/// Checks the documented streams contract (`streams/events.json`, `streams/topology.json`)
/// against the code: a change to either side that the other does not follow fails here.
@Suite("Streams contract")
struct StreamsContractTests {
    // MARK: - events.json

    @Test("events.json has one entry per EventType, and no other")
    func everyEventTypeIsDocumented() throws {
        let documented = Set(try StreamsContract.events().keys)
        let code = Set(EventType.allCases.map(\.rawValue))
        #expect(documented.subtracting(code).sorted() == [], "documented but not an EventType")
        #expect(code.subtracting(documented).sorted() == [], "EventType without an events.json entry")
    }

    @Test("each example decodes, validates and re-encodes to the same JSON", arguments: EventType.allCases)
    func exampleRoundTrips(_ type: EventType) throws {
        let entry = try StreamsContract.event(type)
        let example = try #require(entry["example"] as? [String: Any], "\(type.rawValue) has no example object")
        let event = try StreamsContract.decode(type, example)
        #expect(event.type == type)
        let reencoded = try JSONSerialization.jsonObject(with: Data(event.encodedPayload().utf8))
        #expect(ContractJSON(reencoded) == ContractJSON(example), "\(type.rawValue): encodedPayload() differs from the example")
    }

    @Test("each example is on the stream kind EventType.isReferenceData says", arguments: EventType.allCases)
    func exampleStreamKind(_ type: EventType) throws {
        let entry = try StreamsContract.event(type)
        let stream = try #require(entry["stream"] as? String)
        #expect(stream == (type.isReferenceData ? "reference" : "checkouts"))
        let event = try StreamsContract.decode(type, try #require(entry["example"] as? [String: Any]))
        let topology = StreamTopology()
        if type.isReferenceData {
            #expect(event.checkoutID == nil)
            #expect(topology.stream(for: event) == topology.referenceStream)
        } else {
            let checkoutID = try #require(event.checkoutID)
            let partition = StreamTopology.partition(of: checkoutID, among: topology.checkoutPartitions)
            #expect(topology.stream(for: event) == topology.checkoutStream(partition: partition))
        }
    }

    @Test("documented fields are exactly the example's fields, with matching JSON types", arguments: EventType.allCases)
    func documentedFieldsMatchExample(_ type: EventType) throws {
        let entry = try StreamsContract.event(type)
        let fields = try #require(entry["fields"] as? [String: Any], "\(type.rawValue) has no fields")
        let example = try #require(entry["example"] as? [String: Any])
        #expect(entry["description"] as? String != nil)
        let problems = StreamsContract.compare(fields: fields, with: example, at: type.rawValue)
        #expect(problems == [])
    }

    @Test("documented aggregates are the kinds DomainEvent.aggregates gives", arguments: EventType.allCases)
    func documentedAggregates(_ type: EventType) throws {
        let entry = try StreamsContract.event(type)
        let documented = try #require(entry["aggregates"] as? [String], "\(type.rawValue) has no aggregates")
        let event = try StreamsContract.decode(type, try #require(entry["example"] as? [String: Any]))
        #expect(Set(documented) == Set(event.aggregates.map(\.kind.rawValue)))
        #expect(documented.allSatisfy { AggregateKind(rawValue: $0) != nil })
    }

    @Test("examples use lowercase UUID checkout ids and the ids the rules derive from them")
    func exampleIdentifiers() throws {
        for type in EventType.allCases {
            let event = try StreamsContract.decode(type, try #require(try StreamsContract.event(type)["example"] as? [String: Any]))
            if let checkoutID = event.checkoutID {
                #expect(UUID(uuidString: checkoutID) != nil && checkoutID == checkoutID.lowercased(), "\(type.rawValue)")
            }
            switch event {
            case .paymentAuthorized(let payment):
                #expect(payment.paymentID == EventIdentity.paymentID(checkoutID: payment.checkout.checkoutID))
                #expect(payment.amountCents == payment.checkout.totalCents)
            case .orderCreated(let order):
                #expect(order.orderID == EventIdentity.orderID(checkoutID: order.checkout.checkoutID))
                #expect(order.paymentID == EventIdentity.paymentID(checkoutID: order.checkout.checkoutID))
            case .orderRejected(let rejection):
                #expect(rejection.paymentID == EventIdentity.paymentID(checkoutID: rejection.checkout.checkoutID))
            case .checkoutCompleted(let completed):
                #expect(completed.orderID == EventIdentity.orderID(checkoutID: completed.checkoutID))
            case .paymentRefunded(let refund):
                #expect(refund.paymentID == EventIdentity.paymentID(checkoutID: refund.checkoutID))
            default:
                break
            }
        }
    }

    // MARK: - topology.json

    @Test("topology.json has one group per Worker, with its streams, handles and emits")
    func groupsMatchWorkers() throws {
        let groups = try #require(try StreamsContract.topology()["groups"] as? [String: Any])
        #expect(Set(groups.keys) == Set(Worker.allCases.map(\.groupName)))
        let topology = StreamTopology()
        for worker in Worker.allCases {
            let group = try #require(groups[worker.groupName] as? [String: Any], "no group \(worker.groupName)")
            #expect(group["handles"] as? [String] == worker.handles.map(\.rawValue).sorted(), "handles of \(worker.groupName)")
            #expect(group["emits"] as? [String] == worker.emits.map(\.rawValue).sorted(), "emits of \(worker.groupName)")
            let streams = try #require(group["streams"] as? [String], "streams of \(worker.groupName)")
            var expected: [String] = []
            if worker.readsReferenceStream { expected.append("reference") }
            if worker.readsCheckoutStreams { expected.append("checkouts") }
            #expect(streams == expected, "streams of \(worker.groupName)")
            // The order the worker actually reads them in.
            let read = topology.streams(readBy: worker).map { $0 == topology.referenceStream ? "reference" : "checkouts" }
            var kinds: [String] = []
            for kind in read where kinds.last != kind { kinds.append(kind) }
            #expect(kinds == streams, "the order \(worker.groupName) reads its streams in")
        }
    }

    @Test("stream names in topology.json are the ones StreamTopology makes")
    func streamNames() throws {
        let document = try StreamsContract.topology()
        let defaults = StreamTopology()
        #expect(document["prefix"] as? String == defaults.prefix)
        let streams = try #require(document["streams"] as? [String: Any])
        let checkouts = try #require(streams["checkouts"] as? [String: Any])
        #expect(checkouts["partitions_default"] as? Int == defaults.checkoutPartitions)

        let names = try #require(document["default_stream_names"] as? [String: Any])
        #expect(names["reference"] as? String == defaults.referenceStream)
        #expect(names["dead_letter"] as? String == defaults.deadLetterStream)
        #expect(names["checkouts"] as? [String] == defaults.checkoutStreams)

        // The key templates, filled in with another prefix and partition.
        let other = StreamTopology(prefix: "acme-test", checkoutPartitions: 16)
        func key(_ name: String) throws -> String {
            let stream = try #require(streams[name] as? [String: Any], "no stream \(name)")
            return try #require(stream["key"] as? String).replacingOccurrences(of: "<prefix>", with: other.prefix)
        }
        #expect(try key("reference") == other.referenceStream)
        #expect(try key("dead_letter") == other.deadLetterStream)
        #expect(try key("checkouts").replacingOccurrences(of: "<n>", with: "11") == other.checkoutStream(partition: 11))
    }

    /// Computed once with `StreamTopology.partition(of:among:)` and written down here and in
    /// topology.json: changing the partition function moves existing checkouts, so it must fail.
    static let partitionSamples: [(checkoutID: String, fnv1a32: UInt32, of4: Int, of16: Int)] = [
        ("6513270e-269e-4d37-b2a7-4de452e6b438", 1_198_499_748, 0, 4),
        ("e2a9c4f7-1b3d-4c8e-9f0a-6b5d7e3c1a28", 430_246_445, 1, 13),
        ("0b6f2d1c-93a4-4e58-b7c1-5a9e8d3f2c10", 3_174_447_394, 2, 2),
        ("7c1e4b9a-2f3d-4a6b-8c5e-1d2f3a4b5c6d", 2_456_480_455, 3, 7),
    ]

    @Test("the partition function gives the documented partitions")
    func partitionSamples() throws {
        for sample in Self.partitionSamples {
            #expect(StreamTopology.partition(of: sample.checkoutID, among: 4) == sample.of4, "\(sample.checkoutID)")
            #expect(StreamTopology.partition(of: sample.checkoutID, among: 16) == sample.of16, "\(sample.checkoutID)")
            // Modulo 2^32 - 1 leaves every hash below 2^32 - 1 as it is: the raw hash.
            #expect(StreamTopology.partition(of: sample.checkoutID, among: Int(UInt32.max)) == Int(sample.fnv1a32))
            let completed = DomainEvent.checkoutCompleted(CheckoutCompleted(checkoutID: sample.checkoutID, orderID: "o"))
            #expect(StreamTopology().stream(for: completed) == "chorus:checkouts:\(sample.of4)")
        }

        let partitioning = try #require(try StreamsContract.topology()["partitioning"] as? [String: Any])
        let documented = try #require(partitioning["samples"] as? [[String: Any]])
        #expect(documented.count == Self.partitionSamples.count)
        for (row, sample) in zip(documented, Self.partitionSamples) {
            #expect(row["checkout_id"] as? String == sample.checkoutID)
            #expect(row["fnv1a_32"] as? Int == Int(sample.fnv1a32))
            #expect(row["partition_of_4"] as? Int == sample.of4)
            #expect(row["partition_of_16"] as? Int == sample.of16)
            #expect(row["stream"] as? String == "chorus:checkouts:\(sample.of4)")
        }

        // The documented constants reproduce the function.
        let basis = try #require(partitioning["offset_basis"] as? Int)
        let prime = try #require(partitioning["prime"] as? Int)
        for sample in Self.partitionSamples {
            var hash = UInt32(basis)
            for byte in sample.checkoutID.utf8 { hash = (hash ^ UInt32(byte)) &* UInt32(prime) }
            #expect(hash == sample.fnv1a32)
        }
    }

    @Test("entry fields in topology.json are the ones EventEnvelope writes")
    func entryFields() throws {
        let documented = try #require(try StreamsContract.topology()["entry_fields"] as? [[String: Any]])
        let names = documented.compactMap { $0["name"] as? String }
        let required = documented.filter { $0["required"] as? Bool == true }.compactMap { $0["name"] as? String }
        #expect(names.count == documented.count)
        #expect(Set(names) == [
            StreamField.eventID, StreamField.type, StreamField.payload, StreamField.correlationID,
            StreamField.causationID, StreamField.producer, StreamField.occurredAt, StreamField.actor,
        ])

        let time = Date(timeIntervalSince1970: 1_795_000_000)
        let start = EventEnvelope.starting(
            .storeResumed(StoreResumed(storeID: "store-01")), producer: Worker.checkoutAPI.rawValue, at: time)
        #expect(start.streamFields.map(\.name) == required, "an event that starts a flow has no causation_id")
        let asked = EventEnvelope.starting(
            .storeResumed(StoreResumed(storeID: "store-01")), producer: Worker.checkoutAPI.rawValue, actor: "staff:alice", at: time)
        #expect(asked.streamFields.map(\.name) == required + [StreamField.actor], "a request's event names who asked, last")
        let askedFields = Dictionary(uniqueKeysWithValues: asked.streamFields.map { ($0.name, $0.value) })
        #expect(try EventEnvelope(streamFields: askedFields).metadata.actor == "staff:alice")

        let reaction = try #require(start.causing([.storePaused(StorePaused(storeID: "store-01", reason: "r"))], producer: "x", at: time).first)
        #expect(reaction.streamFields.map(\.name) == names.filter { $0 != StreamField.actor },
                "a reaction carries every documented field but the actor, in order")
        #expect(reaction.eventID == EventIdentity.derived(from: start.eventID, index: 0))
        let fields = Dictionary(uniqueKeysWithValues: reaction.streamFields.map { ($0.name, $0.value) })
        #expect(try EventEnvelope(streamFields: fields) == reaction)
    }
}

// MARK: - Reading the contract

private enum StreamsContract {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func load(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("streams").appendingPathComponent(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not a JSON object")
    }

    static func events() throws -> [String: Any] {
        try #require(try load("events.json")["events"] as? [String: Any], "events.json has no events object")
    }

    static func event(_ type: EventType) throws -> [String: Any] {
        try #require(try events()[type.rawValue] as? [String: Any], "events.json has no \(type.rawValue)")
    }

    static func topology() throws -> [String: Any] {
        try load("topology.json")
    }

    /// The example through the same decoder (and validation) a consumer uses.
    static func decode(_ type: EventType, _ example: [String: Any]) throws -> DomainEvent {
        let payload = String(decoding: try JSONSerialization.data(withJSONObject: example, options: [.sortedKeys]), as: UTF8.self)
        do {
            return try DomainEvent.decode(type: type.rawValue, payload: payload)
        } catch {
            Issue.record("\(type.rawValue) example does not decode: \(error)")
            throw error
        }
    }

    /// Differences between documented `fields` and an example object, recursively.
    static func compare(fields: [String: Any], with object: [String: Any], at path: String) -> [String] {
        var problems: [String] = []
        for name in Set(fields.keys).symmetricDifference(object.keys).sorted() {
            problems.append(fields[name] == nil ? "\(path).\(name) is in the example but not documented" : "\(path).\(name) is documented but not in the example")
        }
        for (name, spec) in fields {
            guard let value = object[name] else { continue }
            problems += compare(spec: spec, with: value, at: "\(path).\(name)")
        }
        return problems
    }

    private static func compare(spec: Any, with value: Any, at path: String) -> [String] {
        guard let spec = spec as? [String: Any], let type = spec["type"] as? String else { return ["\(path) has no type"] }
        var problems: [String] = []
        if path.hasSuffix("[]") == false, (spec["description"] as? String)?.isEmpty ?? true {
            problems.append("\(path) has no description")
        }
        let actual = ContractJSON(value).typeName
        guard actual == type else { return problems + ["\(path) is documented as \(type) but the example has \(actual)"] }
        if let allowed = spec["enum"] as? [String], let text = value as? String, !allowed.contains(text) {
            problems.append("\(path) = \(text) is not one of \(allowed)")
        }
        switch type {
        case "object":
            guard let nested = spec["fields"] as? [String: Any], let object = value as? [String: Any] else {
                return problems + ["\(path) has no fields"]
            }
            problems += compare(fields: nested, with: object, at: path)
        case "array":
            guard let items = spec["items"], let array = value as? [Any], !array.isEmpty else {
                return problems + ["\(path) has no items or an empty example"]
            }
            for element in array { problems += compare(spec: items, with: element, at: "\(path)[]") }
        default:
            break
        }
        return problems
    }
}

/// Parsed JSON that compares by value: objects regardless of key order, integers apart from
/// floating-point numbers.
private indirect enum ContractJSON: Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([ContractJSON])
    case object([String: ContractJSON])

    init(_ any: Any) {
        switch any {
        case let text as String: self = .string(text)
        case let object as [String: Any]: self = .object(object.mapValues(ContractJSON.init))
        case let array as [Any]: self = .array(array.map(ContractJSON.init))
        case let number as NSNumber:
            switch String(cString: number.objCType) {
            case "c", "B": self = .bool(number.boolValue)
            case "d", "f": self = .number(number.doubleValue)
            default: self = .integer(number.int64Value)
            }
        default: self = .null
        }
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer: "integer"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .integer(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let values): "[" + values.map(\.description).joined(separator: ",") + "]"
        case .object(let members):
            "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
    }
}
