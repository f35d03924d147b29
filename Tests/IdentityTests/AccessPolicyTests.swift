import Testing

@testable import Identity

@Suite("Access policy: who may do what")
struct AccessPolicyTests {
    static let alice = Caller.customer(id: "cus-0001")
    static func staff(_ roles: StaffRole...) -> Caller { .staff(name: "sam", roles: Set(roles)) }

    static let administration: [Operation] = [.manageStores, .manageCatalogue, .manageCustomers]
    static let everyOperation: [Operation] = [
        .placeCheckout(customer: "cus-0001"), .readCheckout(customer: "cus-0001"), .readCustomer("cus-0001"), .readAnyAggregate,
        .manageStores, .manageCatalogue, .manageStock, .manageCustomers, .readStock, .readSales,
    ]

    @Test("without a caller, every operation asks for authentication")
    func anonymous() {
        for operation in Self.everyOperation {
            #expect(AccessPolicy.decide(operation, for: nil) == .unauthenticated, "\(operation)")
        }
    }

    @Test("a customer places checkouts and reads checkouts and orders of their own")
    func customerOwnObjects() {
        #expect(AccessPolicy.decide(.placeCheckout(customer: "cus-0001"), for: Self.alice) == .allowed)
        #expect(AccessPolicy.decide(.readCheckout(customer: "cus-0001"), for: Self.alice) == .allowed)
        #expect(AccessPolicy.decide(.readCustomer("cus-0001"), for: Self.alice) == .allowed)
    }

    @Test("a customer spending another customer's balance is forbidden")
    func customerSpendingForAnother() {
        #expect(AccessPolicy.decide(.placeCheckout(customer: "cus-0002"), for: Self.alice) == .forbidden)
    }

    @Test("another customer's objects, and every other aggregate, look absent to a customer")
    func customerOthersHidden() {
        #expect(AccessPolicy.decide(.readCheckout(customer: "cus-0002"), for: Self.alice) == .hidden)
        #expect(AccessPolicy.decide(.readCustomer("cus-0002"), for: Self.alice) == .hidden)
        #expect(AccessPolicy.decide(.readAnyAggregate, for: Self.alice) == .hidden)
    }

    @Test("a customer may not use any staff function")
    func customerNoStaffFunctions() {
        for operation in Self.administration + [.manageStock, .readStock, .readSales] {
            #expect(AccessPolicy.decide(operation, for: Self.alice) == .forbidden, "\(operation)")
        }
    }

    @Test("admin may do everything, for any customer")
    func admin() {
        for operation in Self.everyOperation + [.placeCheckout(customer: "cus-0002"), .readCustomer("cus-0002")] {
            #expect(AccessPolicy.decide(operation, for: Self.staff(.admin)) == .allowed, "\(operation)")
        }
    }

    @Test("inventory receives and reads stock, and nothing else")
    func inventory() {
        let allowed: Set<Operation> = [.manageStock, .readStock]
        for operation in Self.everyOperation {
            #expect(AccessPolicy.decide(operation, for: Self.staff(.inventory)) == (allowed.contains(operation) ? .allowed : .forbidden), "\(operation)")
        }
    }

    @Test("support reads everything and changes nothing")
    func support() {
        let allowed: Set<Operation> = [
            .readCheckout(customer: "cus-0001"), .readCustomer("cus-0001"), .readAnyAggregate, .readStock, .readSales,
        ]
        for operation in Self.everyOperation {
            #expect(AccessPolicy.decide(operation, for: Self.staff(.support)) == (allowed.contains(operation) ? .allowed : .forbidden), "\(operation)")
        }
    }

    @Test("roles add up: inventory and support together may read sales and receive stock")
    func rolesCombine() {
        let both = Self.staff(.inventory, .support)
        #expect(AccessPolicy.decide(.manageStock, for: both) == .allowed)
        #expect(AccessPolicy.decide(.readSales, for: both) == .allowed)
        #expect(AccessPolicy.decide(.manageCatalogue, for: both) == .forbidden)
    }

    @Test("events name the caller as kind and subject")
    func actorNames() {
        #expect(Self.alice.actor == "customer:cus-0001")
        #expect(Self.staff(.admin).actor == "staff:sam")
    }
}
