import ArgumentParser
import Operations
import ServiceSupport

/// `chorus seed`: load the demo retailer.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load the demo data: 5 stores, 200 products with stock, 1,000 customers.",
        discussion: "Publishes reference-data events to the running system's Redis (CHORUS_REDIS_URL, else the operator user of the local `chorus up`). Loading twice does nothing the second time; --force publishes again, and every service still ignores the repeats, because each demo event has a fixed id."
    )

    @Flag(help: "Publish the events even if the demo data was loaded before.")
    var force = false

    func run() async throws {
        let configuration = try OperatorOptions.configurationOrExit()
        let target = OperatorTarget(redisURL: configuration.redisURL, databaseURL: configuration.databaseURL, topology: configuration.topology)
        let force = self.force
        let outcome = try await OperatorCommand.run("seed") { () async throws(OperatorError) in
            try await target.withRedisConnection { redis in
                try await DemoDataLoader(redis: redis, topology: configuration.topology).load(force: force)
            }
        }
        switch outcome {
        case .loaded(let events): print("published \(events) demo events; services apply them within seconds")
        case .alreadyLoaded: print("the demo data is already loaded (use --force to publish it again)")
        }
    }
}
