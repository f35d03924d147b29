import Foundation
import Testing

@testable import CheckoutDomain

@Suite("EventIdentity")
struct EventIdentityTests {
    /// Whether `text` is a lower-case RFC 9562 UUID of `version` with the variant bits `10xx`.
    static func isUUID(_ text: String, version: Character) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        guard text.allSatisfy({ $0 == "-" || ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else { return false }
        let characters = Array(text)
        return characters[14] == version && "89ab".contains(characters[19])
    }

    /// Every kind of name-based id.
    enum Maker: String, CaseIterable, Sendable {
        case derivedIndex0, derivedIndex7, checkoutID, requestEventID, orderID, paymentID, nameBased

        func make(_ input: String) -> String {
            switch self {
            case .derivedIndex0: EventIdentity.derived(from: input, index: 0)
            case .derivedIndex7: EventIdentity.derived(from: input, index: 7)
            case .checkoutID: EventIdentity.checkoutID(idempotencyKey: input)
            case .requestEventID: EventIdentity.requestEventID(idempotencyKey: input, purpose: "store")
            case .orderID: EventIdentity.orderID(checkoutID: input)
            case .paymentID: EventIdentity.paymentID(checkoutID: input)
            case .nameBased: EventIdentity.nameBased(input)
            }
        }
    }

    static let inputs = ["evt-1", "", "9b2d4c1e-8f3a-4e6b-a1c2-0d9e8f7a6b5c", "ключ/🙂", String(repeating: "x", count: 1_000)]

    @Test("every name-based id is a lower-case RFC 9562 version-5 UUID", arguments: Maker.allCases)
    func nameBasedIDsAreVersion5(maker: Maker) throws {
        for input in Self.inputs {
            let id = maker.make(input)
            #expect(Self.isUUID(id, version: "5"), "\(maker)(\(input)) = \(id)")
            let parsed = try #require(UUID(uuidString: id))
            #expect(parsed.uuidString.lowercased() == id)
        }
    }

    @Test("name-based ids match an independent RFC 9562 implementation (uuid5 in the Chorus namespace)")
    func knownValues() {
        // Computed once with Python's uuid.uuid5(UUID("6b1f3c52-9a0e-4d21-8f47-1c63d285900b"), name).
        #expect(EventIdentity.derived(from: "evt-1", index: 0) == "d1f09fa1-62b5-54c2-a146-2371a798306f")
        #expect(EventIdentity.derived(from: "evt-1", index: 1) == "eca3f41b-33ce-5cf0-86ba-f952bf4299db")
        #expect(EventIdentity.checkoutID(idempotencyKey: "key-1") == "79a0e1ba-f48f-5489-b218-79de69bf8db6")
        #expect(EventIdentity.orderID(checkoutID: "co-1") == "a85c0cd8-5ca7-5259-a4f4-6b6970ada2c9")
        #expect(EventIdentity.paymentID(checkoutID: "co-1") == "04bb45e6-3769-5acf-98d3-a1a976990017")
        #expect(EventIdentity.requestEventID(idempotencyKey: "key-1", purpose: "store") == "dbff21b3-cce6-554b-bbe5-d52b2fe35f00")
    }

    @Test("the namespace is the Chorus namespace UUID")
    func namespace() {
        let expected = UUID(uuidString: "6b1f3c52-9a0e-4d21-8f47-1c63d285900b")!.uuid
        #expect(EventIdentity.namespace == withUnsafeBytes(of: expected) { Array($0) })
    }

    @Test("a derived id is the same every time the same input is handled")
    func derivedIsDeterministic() {
        for input in Self.inputs {
            for index in 0..<3 {
                #expect(EventIdentity.derived(from: input, index: index) == EventIdentity.derived(from: input, index: index))
            }
        }
    }

    @Test("derived ids differ for each index of one input")
    func derivedDistinctPerIndex() {
        let ids = (0..<1_000).map { EventIdentity.derived(from: "evt-1", index: $0) }
        #expect(Set(ids).count == 1_000)
    }

    @Test("derived ids differ for each input at one index")
    func derivedDistinctPerInput() {
        let ids = (0..<1_000).map { EventIdentity.derived(from: "evt-\($0)", index: 0) }
        #expect(Set(ids).count == 1_000)
    }

    @Test("a derived id does not collide with the input id read as another index")
    func derivedInputAndIndexDoNotAlias() {
        // "evt-1" index 10 and "evt-11" index 0 must not be confused.
        #expect(EventIdentity.derived(from: "evt-1", index: 10) != EventIdentity.derived(from: "evt-11", index: 0))
        #expect(EventIdentity.derived(from: "evt-1", index: 10) != EventIdentity.derived(from: "evt-1", index: 1))
    }

    @Test("the same idempotency key always names the same checkout")
    func checkoutIDIsStable() {
        let first = EventIdentity.checkoutID(idempotencyKey: "key-1")
        #expect(EventIdentity.checkoutID(idempotencyKey: "key-1") == first)
        #expect(EventIdentity.checkoutID(idempotencyKey: "key-2") != first)
        #expect(EventIdentity.checkoutID(idempotencyKey: "KEY-1") != first)
    }

    @Test("each kind of id has its own name space, so the same input makes different ids")
    func kindsDoNotCollide() {
        let ids = Maker.allCases.map { $0.make("co-1") }
        #expect(Set(ids).count == ids.count)
        #expect(
            EventIdentity.requestEventID(idempotencyKey: "key-1", purpose: "store")
                != EventIdentity.requestEventID(idempotencyKey: "key-1", purpose: "product"))
    }

    @Test("order and payment ids are deterministic per checkout")
    func orderAndPaymentIDs() {
        #expect(EventIdentity.orderID(checkoutID: "co-1") == EventIdentity.orderID(checkoutID: "co-1"))
        #expect(EventIdentity.orderID(checkoutID: "co-1") != EventIdentity.orderID(checkoutID: "co-2"))
        #expect(EventIdentity.paymentID(checkoutID: "co-1") == EventIdentity.paymentID(checkoutID: "co-1"))
        #expect(EventIdentity.paymentID(checkoutID: "co-1") != EventIdentity.paymentID(checkoutID: "co-2"))
    }

    @Test("random ids are lower-case UUIDs that differ on every call")
    func randomIDs() {
        let ids = (0..<1_000).map { _ in EventIdentity.random() }
        #expect(Set(ids).count == 1_000)
        for id in ids {
            #expect(Self.isUUID(id, version: "4"), "\(id)")
        }
    }

    @Test("a fingerprint is 64 lower-case hex digits and the same for the same text")
    func fingerprintShape() {
        for text in ["", "abc", "c-1|s-1|a*1", String(repeating: "é", count: 10_000)] {
            let fingerprint = EventIdentity.fingerprint(text)
            #expect(fingerprint.count == 64)
            #expect(fingerprint.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) })
            #expect(EventIdentity.fingerprint(text) == fingerprint)
        }
    }

    @Test("a fingerprint is the SHA-256 of the text's UTF-8 bytes")
    func fingerprintKnownValues() {
        #expect(EventIdentity.fingerprint("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(EventIdentity.fingerprint("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(EventIdentity.fingerprint("c-1|s-1|a*1") == "4e830e46f288cc511ed6d72ecdc2416226b09d50cdfe3a57b661d8b8078fc947")
    }

    @Test("different texts have different fingerprints")
    func fingerprintDistinct() {
        #expect(EventIdentity.fingerprint("c-1|s-1|a*1") != EventIdentity.fingerprint("c-1|s-1|a*2"))
    }
}
