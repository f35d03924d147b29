import CQRSProjection
import Postgres

extension OperatorTarget {
    /// Rebuilds the read models from the event store and switches to them (``ReadModelRebuild``),
    /// reading the store as this target's role and writing the read models as their owner.
    /// - Parameters:
    ///   - readModelsURL: a connection as the role that owns `cqrs_projection` (the projection's).
    ///   - pageSize: events per page of the fill.
    ///   - progress: called after each page.
    public func rebuildReadModels(
        readModelsURL: String, pageSize: Int, progress: @Sendable (ReadModelRebuild.Progress) -> Void = { _ in }
    ) async throws(OperatorError) -> ReadModelRebuild.Report {
        let readModelsDisplay = Self.databaseLocation(readModelsURL)
        // Its tables are not served until the switch, whose transaction commits synchronously:
        // a crash before it only means running the rebuild again.
        let readModels = PostgresConnection(
            connectionString: readModelsURL, sessionSettings: PostgresSessionSettings([("synchronous_commit", "off")]))
        do {
            try await readModels.open()
        } catch {
            throw OperatorError.from(error, endpoint: "\(readModelsDisplay) (as the read models' owner)")
        }
        let outcome: Result<ReadModelRebuild.Report, OperatorError>
        do {
            outcome = .success(try await withDatabase { store in
                do {
                    return try await ReadModelRebuild(store: store, readModels: readModels, pageSize: pageSize).run(progress: progress)
                } catch let error as ReadModelRebuildError {
                    throw OperatorError.refused(error.description)
                }
            })
        } catch {
            outcome = .failure(error)
        }
        await readModels.close()
        return try outcome.get()
    }
}
