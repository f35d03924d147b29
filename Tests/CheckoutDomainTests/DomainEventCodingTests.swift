import Foundation
import Testing

@testable import CheckoutDomain

@Suite("DomainEvent coding")
struct DomainEventCodingTests {
    // MARK: The catalogue of types

    @Test("there are 19 event types, 8 of them reference data")
    func typeCatalogue() {
        #expect(EventType.allCases.count == 19)
        #expect(
            Set(Fixture.referenceTypes) == [
                .storeOpened, .storePaused, .storeResumed, .productRegistered, .productRepriced,
                .stockReceived, .customerRegistered, .accountCredited,
            ])
    }

    @Test("an event type's raw value is its name on the stream", arguments: EventType.allCases)
    func rawValueIsTheTypeName(type: EventType) {
        #expect(type.rawValue.first?.isUppercase == true)
        #expect("\(type)".prefix(1).uppercased() + "\(type)".dropFirst() == type.rawValue)
    }

    // MARK: Accessors

    @Test("type names the case of the event", arguments: EventType.allCases)
    func typeAccessor(type: EventType) {
        #expect(Fixture.sample(type).type == type)
        #expect(Swift.type(of: Fixture.sample(type).payload).eventType == type)
    }

    @Test("checkoutID is the checkout of a saga event", arguments: Fixture.sagaTypes)
    func checkoutIDOfSagaEvents(type: EventType) {
        #expect(Fixture.sample(type, checkoutID: "co-77").checkoutID == "co-77")
    }

    @Test("checkoutID is nil for reference data", arguments: Fixture.referenceTypes)
    func checkoutIDOfReferenceEvents(type: EventType) {
        #expect(Fixture.sample(type).checkoutID == nil)
    }

    // MARK: Round trips

    @Test("every event decodes to itself from its type and encoded payload", arguments: EventType.allCases)
    func roundTrip(type: EventType) throws {
        let event = Fixture.sample(type)
        let decoded = try DomainEvent.decode(type: event.type.rawValue, payload: event.encodedPayload())
        #expect(decoded == event)
    }

    @Test("a payload decodes whatever the order of its keys and ignores keys it does not know")
    func decodeIsLenientAboutLayout() throws {
        let payload = #"{"quantity": 10, "extra": [1, 2], "sku": "sku-a", "store_id": "store-1"}"#
        #expect(try DomainEvent.decode(type: "StockReceived", payload: payload) == Fixture.sample(.stockReceived))
    }

    // MARK: The JSON contract

    static let expectedKeys: [EventType: Set<String>] = [
        .storeOpened: ["store_id", "name", "channel"],
        .storePaused: ["store_id", "reason"],
        .storeResumed: ["store_id"],
        .productRegistered: ["sku", "name", "price_cents"],
        .productRepriced: ["sku", "price_cents"],
        .stockReceived: ["store_id", "sku", "quantity"],
        .customerRegistered: ["customer_id", "name", "email", "opening_balance_cents"],
        .accountCredited: ["customer_id", "amount_cents"],
        .checkoutInitiated: ["checkout"],
        .stockReserved: ["checkout"],
        .stockReservationFailed: ["checkout_id", "reason", "sku", "requested", "available"],
        .paymentAuthorized: ["checkout", "payment_id", "amount_cents"],
        .paymentDeclined: ["checkout", "reason", "balance_cents"],
        .orderCreated: ["checkout", "order_id", "payment_id"],
        .orderRejected: ["checkout", "reason", "payment_id", "amount_cents"],
        .checkoutCompleted: ["checkout_id", "order_id"],
        .paymentRefunded: ["checkout_id", "customer_id", "payment_id", "amount_cents"],
        .stockReleased: ["checkout_id", "store_id", "lines"],
        .checkoutFailed: ["checkout_id", "reason", "failed_step"],
    ]

    @Test("every payload has exactly the snake_case keys of the contract", arguments: EventType.allCases)
    func payloadKeys(type: EventType) throws {
        let object = try jsonObject(Fixture.sample(type).encodedPayload())
        #expect(Set(object.keys) == Self.expectedKeys[type])
    }

    @Test("checkout facts and their lines use snake_case keys")
    func checkoutFactsKeys() throws {
        let object = try jsonObject(Fixture.sample(.checkoutInitiated).encodedPayload())
        let checkout = try #require(object["checkout"] as? [String: Any])
        #expect(Set(checkout.keys) == ["checkout_id", "customer_id", "store_id", "lines", "total_cents"])
        #expect(checkout["checkout_id"] as? String == Fixture.checkoutID)
        #expect(checkout["total_cents"] as? Int == 2_499)
        let lines = try #require(checkout["lines"] as? [[String: Any]])
        #expect(lines.count == 2)
        #expect(Set(lines[0].keys) == ["sku", "quantity", "unit_price_cents", "line_total_cents"])
        #expect(lines[0]["unit_price_cents"] as? Int == 250)
        #expect(lines[0]["line_total_cents"] as? Int == 500)
    }

    @Test("a few values as the contract spells them")
    func contractValues() throws {
        let failed = try jsonObject(Fixture.sample(.checkoutFailed).encodedPayload())
        #expect(failed["failed_step"] as? String == "OrderRejected")
        let authorized = try jsonObject(Fixture.sample(.paymentAuthorized).encodedPayload())
        #expect(authorized["amount_cents"] as? Int == 2_499)
        let opened = try jsonObject(DomainEvent.storeOpened(StoreOpened(storeID: "web-1", name: "Web", channel: .web)).encodedPayload())
        #expect(opened["channel"] as? String == "web")
    }

    @Test("the encoded payload is compact JSON with sorted keys")
    func encodedPayloadIsCanonical() {
        #expect(
            Fixture.sample(.stockReservationFailed).encodedPayload()
                == #"{"available":1,"checkout_id":"co-1","reason":"insufficient_stock","requested":2,"sku":"sku-a"}"#)
        #expect(
            Fixture.sample(.checkoutInitiated).encodedPayload()
                == #"{"checkout":{"checkout_id":"co-1","customer_id":"cust-1","lines":[{"line_total_cents":500,"quantity":2,"#
                + #""sku":"sku-a","unit_price_cents":250},{"line_total_cents":1999,"quantity":1,"sku":"sku-b","unit_price_cents":1999}],"#
                + #""store_id":"store-1","total_cents":2499}}"#)
    }

    @Test("equal events encode to equal text", arguments: EventType.allCases)
    func encodedPayloadIsDeterministic(type: EventType) {
        let texts = (0..<20).map { _ in Fixture.sample(type).encodedPayload() }
        #expect(Set(texts).count == 1)
    }

    @Test("slashes are not escaped")
    func slashesAreNotEscaped() {
        let text = DomainEvent.storePaused(StorePaused(storeID: "s", reason: "a/b")).encodedPayload()
        #expect(text == #"{"reason":"a/b","store_id":"s"}"#)
    }

    // MARK: Decoding errors

    @Test("an unknown type is reported by name", arguments: ["CheckoutAbandoned", "", "checkoutInitiated", "STOCKRESERVED"])
    func unknownType(name: String) {
        #expect(decodingError(type: name, payload: "{}") == .unknownType(name))
    }

    @Test("a payload that is not JSON is malformed", arguments: ["", "{", "not json", #"{"sku": }"#, "{}}"])
    func malformedJSON(payload: String) throws {
        let error = try #require(decodingError(type: "StockReceived", payload: payload))
        #expect(error == .malformedPayload(type: "StockReceived", detail: "not valid JSON"))
    }

    @Test("a payload that is JSON but not an object is malformed", arguments: ["[]", "null", "42", #""text""#])
    func notAnObject(payload: String) throws {
        let error = try #require(decodingError(type: "StockReceived", payload: payload))
        #expect(error.malformedDetail(of: .stockReceived) != nil, "\(error)")
    }

    @Test("a payload without one of its fields is malformed and the message names the field", arguments: EventType.allCases)
    func missingField(type: EventType) throws {
        let complete = try jsonObject(Fixture.sample(type).encodedPayload())
        for key in complete.keys {
            var object = complete
            object.removeValue(forKey: key)
            let error = try #require(decodingError(type: type.rawValue, payload: try jsonText(object)), "without \(key)")
            let detail = try #require(error.malformedDetail(of: type), "\(error)")
            #expect(detail.contains(key), "\(detail)")
        }
    }

    @Test("a missing field deep inside the checkout facts is named", arguments: ["sku", "quantity", "unit_price_cents", "line_total_cents"])
    func missingNestedField(key: String) throws {
        var object = try jsonObject(Fixture.sample(.stockReserved).encodedPayload())
        var checkout = try #require(object["checkout"] as? [String: Any])
        var lines = try #require(checkout["lines"] as? [[String: Any]])
        lines[1].removeValue(forKey: key)
        checkout["lines"] = lines
        object["checkout"] = checkout
        let error = try #require(decodingError(type: "StockReserved", payload: try jsonText(object)))
        let detail = try #require(error.malformedDetail(of: .stockReserved), "\(error)")
        #expect(detail.contains(key), "\(detail)")
        #expect(detail.contains("lines"), "\(detail)")
    }

    @Test(
        "a field of the wrong type is malformed and the message names it",
        arguments: [
            (EventType.stockReceived, #"{"store_id":"store-1","sku":"sku-a","quantity":"10"}"#, "quantity"),
            (.stockReceived, #"{"store_id":1,"sku":"sku-a","quantity":10}"#, "store_id"),
            (.stockReceived, #"{"store_id":"store-1","sku":"sku-a","quantity":null}"#, "quantity"),
            (.productRegistered, #"{"sku":"sku-a","name":"Apple","price_cents":"250"}"#, "price_cents"),
            (.storeOpened, #"{"store_id":"s","name":"n","channel":"drive-in"}"#, "channel"),
            (.checkoutFailed, #"{"checkout_id":"co-1","reason":"r","failed_step":"Nope"}"#, "failed_step"),
            (.checkoutInitiated, #"{"checkout":"co-1"}"#, "checkout"),
            (.stockReleased, #"{"checkout_id":"co-1","store_id":"s","lines":{}}"#, "lines"),
        ]
    )
    func wrongType(type: EventType, payload: String, field: String) throws {
        let error = try #require(decodingError(type: type.rawValue, payload: payload))
        let detail = try #require(error.malformedDetail(of: type), "\(error)")
        #expect(detail.contains(field), "\(detail)")
    }

    @Test(
        "a number that is not a whole number in range of its field is malformed",
        arguments: [
            #"{"store_id":"store-1","sku":"sku-a","quantity":1.5}"#,
            #"{"store_id":"store-1","sku":"sku-a","quantity":1e30}"#,
            #"{"store_id":"store-1","sku":"sku-a","quantity":99999999999999999999}"#,
        ]
    )
    func numberOutOfRange(payload: String) {
        // Foundation reports these without a coding path, so the detail cannot name the field.
        #expect(decodingError(type: "StockReceived", payload: payload)?.malformedDetail(of: .stockReceived) != nil)
    }

    /// Facts as JSON with one line, for semantic checks.
    static func factsJSON(quantity: Int = 2, unitPrice: Int64 = 250, lineTotal: Int64 = 500, total: Int64 = 500) -> String {
        #"{"checkout_id":"co-1","customer_id":"cust-1","store_id":"store-1","total_cents":\#(total),"#
            + #""lines":[{"sku":"sku-a","quantity":\#(quantity),"unit_price_cents":\#(unitPrice),"line_total_cents":\#(lineTotal)}]}"#
    }

    static let emptyLinesFacts = #"{"checkout_id":"co-1","customer_id":"cust-1","store_id":"store-1","total_cents":0,"lines":[]}"#

    static let invalidPayloads: [(EventType, String)] = [
        // Checkout facts: quantities, prices, line totals, the total, non-empty lines.
        (.checkoutInitiated, #"{"checkout":\#(factsJSON(quantity: 0, lineTotal: 0, total: 0))}"#),
        (.checkoutInitiated, #"{"checkout":\#(factsJSON(quantity: -1, lineTotal: -250, total: -250))}"#),
        (.checkoutInitiated, #"{"checkout":\#(factsJSON(unitPrice: -250, lineTotal: -500, total: -500))}"#),
        (.checkoutInitiated, #"{"checkout":\#(factsJSON(lineTotal: 499, total: 499))}"#),
        (.checkoutInitiated, #"{"checkout":\#(factsJSON(total: 501))}"#),
        (.checkoutInitiated, #"{"checkout":\#(emptyLinesFacts)}"#),
        (.checkoutInitiated, #"{"checkout":\#(factsJSON(quantity: 2, unitPrice: Int64.max, lineTotal: -2, total: -2))}"#),
        (.stockReserved, #"{"checkout":\#(factsJSON(total: 0))}"#),
        (.paymentAuthorized, #"{"checkout":\#(factsJSON(total: 0)),"payment_id":"p","amount_cents":0}"#),
        (.paymentDeclined, #"{"checkout":\#(emptyLinesFacts),"reason":"insufficient_funds","balance_cents":0}"#),
        (.orderCreated, #"{"checkout":\#(factsJSON(lineTotal: 1, total: 1)),"order_id":"o","payment_id":"p"}"#),
        (.orderRejected, #"{"checkout":\#(factsJSON(quantity: 0, lineTotal: 0, total: 0)),"reason":"store_paused","payment_id":"p","amount_cents":0}"#),
        // Reference data: signs.
        (.productRegistered, #"{"sku":"sku-a","name":"Apple","price_cents":-1}"#),
        (.productRepriced, #"{"sku":"sku-a","price_cents":-1}"#),
        (.stockReceived, #"{"store_id":"store-1","sku":"sku-a","quantity":0}"#),
        (.stockReceived, #"{"store_id":"store-1","sku":"sku-a","quantity":-5}"#),
        (.customerRegistered, #"{"customer_id":"c","name":"n","email":"e","opening_balance_cents":-1}"#),
        (.accountCredited, #"{"customer_id":"c","amount_cents":0}"#),
        (.accountCredited, #"{"customer_id":"c","amount_cents":-100}"#),
        // Compensations: signs.
        (.paymentRefunded, #"{"checkout_id":"co-1","customer_id":"c","payment_id":"p","amount_cents":-1}"#),
        (.stockReleased, #"{"checkout_id":"co-1","store_id":"s","lines":[{"sku":"a","quantity":0,"unit_price_cents":1,"line_total_cents":0}]}"#),
    ]

    @Test("a payload that breaks a rule of the contract is invalid", arguments: invalidPayloads)
    func semanticValidation(type: EventType, payload: String) throws {
        let error = try #require(decodingError(type: type.rawValue, payload: payload))
        #expect(error.invalidDetail(of: type) != nil, "\(error)")
    }

    @Test(
        "the invalid-payload message says which rule was broken",
        arguments: [
            (factsJSON(quantity: 0, lineTotal: 0, total: 0), "quantity of sku-a must be positive"),
            (factsJSON(unitPrice: -250, lineTotal: -500, total: -500), "line_total_cents of sku-a does not match its price and quantity"),
            (factsJSON(lineTotal: 499, total: 499), "line_total_cents of sku-a does not match its price and quantity"),
            (factsJSON(total: 501), "total_cents does not match the lines"),
            (emptyLinesFacts, "lines must not be empty"),
        ]
    )
    func semanticValidationMessages(facts: String, message: String) {
        #expect(
            decodingError(type: "CheckoutInitiated", payload: #"{"checkout":\#(facts)}"#)
                == .invalidPayload(type: "CheckoutInitiated", detail: message))
    }

    @Test("a refund of nothing and a release of no lines are valid")
    func boundaryValuesAreValid() throws {
        let refund = #"{"checkout_id":"co-1","customer_id":"c","payment_id":"p","amount_cents":0}"#
        #expect(try DomainEvent.decode(type: "PaymentRefunded", payload: refund).type == .paymentRefunded)
        let release = #"{"checkout_id":"co-1","store_id":"s","lines":[]}"#
        #expect(try DomainEvent.decode(type: "StockReleased", payload: release).type == .stockReleased)
        let free = #"{"checkout":\#(Self.factsJSON(unitPrice: 0, lineTotal: 0, total: 0))}"#
        #expect(try DomainEvent.decode(type: "CheckoutInitiated", payload: free).type == .checkoutInitiated)
    }

    @Test("the facts of every sample validate")
    func samplesAreValid() throws {
        try Fixture.facts().validate()
        for type in EventType.allCases {
            try Fixture.sample(type).payload.validate()
        }
    }

    @Test(
        "every decoding error describes itself in a sentence",
        arguments: [
            (EventDecodingError.unknownType("X"), "unknown event type X"),
            (.malformedPayload(type: "StockReceived", detail: "not valid JSON"), "malformed StockReceived payload: not valid JSON"),
            (.invalidPayload(type: "StockReceived", detail: "quantity must be positive"), "invalid StockReceived payload: quantity must be positive"),
            (.missingField("event_id"), "stream entry has no event_id field"),
        ]
    )
    func errorDescriptions(error: EventDecodingError, description: String) {
        #expect(error.description == description)
    }

    @Test("a checkout with the same SKU on two lines is refused")
    func duplicateSkuIsInvalid() throws {
        let line = CheckoutLine(sku: "SKU-1", quantity: 1, unitPriceCents: 100, lineTotalCents: 100)
        let facts = CheckoutFacts(checkoutID: "co-1", customerID: "cus-1", storeID: "store-1", lines: [line, line], totalCents: 200)
        #expect(throws: EventValidationError.self) { try facts.validate() }
    }
}

