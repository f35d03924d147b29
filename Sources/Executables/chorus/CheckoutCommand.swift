import ArgumentParser
import CheckoutDomain
import Foundation
import Identity

/// `chorus checkout`: send one checkout.
struct CheckoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkout",
        abstract: "Send one checkout and print the answer (a random demo checkout unless told otherwise).",
        discussion: "Example: chorus checkout --customer cus-0001 --store store-01 --item SKU-0001:2 --item SKU-0002:1 --wait"
    )

    @OptionGroup var gateway: GatewayOptions

    @Option(help: "The customer, who signs the request with their own token (default: a random demo customer; with CHORUS_TOKEN, the token's customer).")
    var customer: String?

    @Option(help: "The store (default: a random demo store).")
    var store: String?

    @Option(name: .customLong("item"), help: "SKU:QUANTITY, repeatable (default: two random demo products).")
    var items: [String] = []

    @Option(help: "An Idempotency-Key: the same key and body never start a second checkout.")
    var idempotencyKey: String?

    @Flag(help: "Wait until the checkout completes or fails, and print its projection.")
    var wait = false

    @Flag(help: "Print only the checkout id, for scripts: id=$(chorus checkout --id-only).")
    var idOnly = false

    func run() async throws {
        var lines: [[String: Any]] = []
        for item in items {
            let parts = item.split(separator: ":")
            guard parts.count == 2, let quantity = Int(parts[1]) else { throw ValidationError("--item takes SKU:QUANTITY, e.g. SKU-0001:2") }
            lines.append(["sku": String(parts[0]), "quantity": quantity])
        }
        if lines.isEmpty {
            let first = Int.random(in: 1...DemoData.productCount)
            let second = first % DemoData.productCount + 1
            lines = [["sku": DemoData.sku(first), "quantity": Int.random(in: 1...3)], ["sku": DemoData.sku(second), "quantity": 1]]
        }
        var body: [String: Any] = [
            "store_id": store ?? DemoData.stores[Int.random(in: 0..<DemoData.stores.count)].storeID,
            "items": lines,
        ]
        let signsWithOwnToken = ProcessInfo.processInfo.environment["CHORUS_TOKEN"].map { !$0.isEmpty } ?? false
        let customer = self.customer ?? (signsWithOwnToken ? nil : DemoData.customerID(Int.random(in: 1...DemoData.customerCount)))
        // With a customer's own token the body need not name them; staff tokens must.
        if let customer { body["customer_id"] = customer }
        var headers = try await CallerTokens.header(as: .customer(id: customer ?? ""))
        if let idempotencyKey { headers["Idempotency-Key"] = idempotencyKey }
        let answer = try await HTTP.send("POST", "\(gateway.baseURL)/checkouts", json: body, headers: headers)
        guard answer.status == 202, let id = answer.json?["checkout_id"] as? String else {
            FileHandle.standardError.write(Data((HTTP.pretty(answer.body) + "\n").utf8))
            throw ExitCode(1)
        }
        print(idOnly ? id : HTTP.pretty(answer.body))
        if wait {
            try await Status.show(id, baseURL: gateway.baseURL, wait: true)
        }
    }
}
