import CheckoutDomain
import Foundation
@testable import Operations
import Redis
import StreamRuntime
import Testing

@Suite("Operator: dead letters", .serialized)
struct DeadLetterQueueTests {
    @Test("an undecodable entry is listed and shown with its reason; a retry refuses it, since every group would dead-letter it again")
    func listShowAndRefuseWhatWouldFailAgain() async throws {
        let system = try await ChorusSystem.start([.audit, .eventStore])
        defer { Task { await system.shutdown() } }
        let queue = DeadLetterQueue(target: system.operatorTarget)
        let (eventID, stream) = try await system.appendUndecodableEntry()
        _ = try await ChorusSystem.eventually("both groups to dead-letter the entry") {
            try await system.deadLetters().count == 2 ? true : nil
        }

        let listing = try await queue.list(limit: 10)
        #expect(listing.total == 2)
        #expect(Set(listing.entries.map(\.group)) == ["audit", "event-store"])
        for entry in listing.entries {
            #expect(entry.eventType == "NoSuchEvent")
            #expect(entry.eventID == eventID)
            #expect(entry.sourceStream == stream)
            #expect(entry.reason.contains("NoSuchEvent"))
            #expect(entry.retriedAs == nil)
            #expect(entry.deadLetteredAt != nil)
        }
        let first = try #require(listing.entries.last)
        let shown = try await queue.show(first.id)
        #expect(shown.original["event_id"] == eventID && shown.original["producer"] == "a-test")
        #expect(shown.detailedDescription.contains("\"checkout_id\" : \"x\""), "the payload is laid out as JSON")

        let retried = try await queue.retry(first.id)
        #expect(retried.outcome == .wouldFailAgain)
        #expect(retried.detail?.contains("NoSuchEvent") == true, "\(retried.summary)")
        #expect(retried.summary.contains("chorus dlq discard"))
        #expect(try await system.copies(of: eventID, in: stream) == 1, "nothing republished")
    }

    @Test("a dead letter of a readable event is republished once, with its original fields, whichever group's letter is retried")
    func retryOnce() async throws {
        let system = try await ChorusSystem.start([.audit, .eventStore])
        defer { Task { await system.shutdown() } }
        let queue = DeadLetterQueue(target: system.operatorTarget)
        let (eventID, stream) = try await system.appendDeadLetteredEvent(groups: ["audit", "event-store"])
        let listing = try await queue.list(limit: 10)
        let first = try #require(listing.entries.last)

        let retried = try await queue.retry(first.id)
        #expect(retried.outcome == .republished)
        let newID = try #require(retried.republishedID)
        let republished = try #require(try await system.redis.entry(newID, in: stream))
        #expect(republished.fields == first.original, "the original fields, unchanged")
        #expect(try await system.copies(of: eventID, in: stream) == 2)

        let again = try await queue.retry(first.id)
        #expect(again.outcome == .alreadyRetried && again.republishedID == newID)
        let sibling = try #require(listing.entries.first { $0.id != first.id })
        let siblingRetry = try await queue.retry(sibling.id)
        #expect(siblingRetry.outcome == .alreadyRetried, "the other group's dead letter of the same entry is not published again")
        #expect(try await queue.list(limit: 10).entries.filter { [first.id, sibling.id].contains($0.id) }.allSatisfy { $0.retriedAs == newID })
        #expect(try await system.copies(of: eventID, in: stream) == 2)
    }

    @Test("retry --all republishes each source entry once and skips what was retried")
    func retryAll() async throws {
        let system = try await ChorusSystem.start([])
        defer { Task { await system.shutdown() } }
        let queue = DeadLetterQueue(target: system.operatorTarget)
        let one = try await system.appendDeadLetteredEvent(groups: ["audit"])
        let two = try await system.appendDeadLetteredEvent(groups: ["audit"])

        let outcomes = try await queue.retryAll()
        #expect(outcomes.map(\.outcome) == [.republished, .republished])
        let second = try await queue.retryAll()
        #expect(second.map(\.outcome) == [.alreadyRetried, .alreadyRetried])
        #expect(try await system.copies(of: one.eventID, in: one.stream) == 2)
        #expect(try await system.copies(of: two.eventID, in: two.stream) == 2)
    }

    @Test("retry --all of letters that would fail again publishes nothing, and the dead letters do not grow")
    func retryAllDoesNotGrowTheLetters() async throws {
        let system = try await ChorusSystem.start([.audit, .eventStore])
        defer { Task { await system.shutdown() } }
        let queue = DeadLetterQueue(target: system.operatorTarget)
        _ = try await system.appendUndecodableEntry()
        _ = try await system.appendUndecodableEntry()
        _ = try await ChorusSystem.eventually("four dead letters") { try await system.deadLetters().count == 4 ? true : nil }

        for _ in 0..<3 {
            let outcomes = try await queue.retryAll()
            #expect(outcomes.count == 4)
            #expect(outcomes.allSatisfy { $0.outcome == .wouldFailAgain })
            try await system.waitUntilQuiet()
            #expect(try await system.deadLetters().count == 4)
        }
    }

    @Test("discard records each letter (who, why, its fields) before deleting it; --all takes what is there; an unknown id is not found")
    func discardIsRecorded() async throws {
        let system = try await ChorusSystem.start([.audit, .eventStore])
        defer { Task { await system.shutdown() } }
        let queue = DeadLetterQueue(target: system.operatorTarget)
        let (eventID, _) = try await system.appendUndecodableEntry()
        _ = try await system.appendUndecodableEntry()
        _ = try await ChorusSystem.eventually("four dead letters") { try await system.deadLetters().count == 4 ? true : nil }
        let letters = try await system.deadLetters()
        let first = try #require(letters.first)

        let discarded = try await queue.discard(first.reference.id, by: "sam", note: "garbage from a test client")
        let recordID = try #require(discarded.recordID)
        #expect(try await system.deadLetters().map(\.reference.id) == letters.dropFirst().map(\.reference.id))
        let record = try #require(try await system.redis.entry(recordID, in: queue.discardRecordStream))
        #expect(record.fields["dead_letter_id"] == first.reference.id)
        #expect(record.fields["discarded_by"] == "sam" && record.fields["note"] == "garbage from a test client")
        #expect(record.fields.filter { first.fields[$0.key] != nil } == first.fields, "the letter's own fields, kept")
        #expect(record.fields[DeadLetterFields.entry]?.contains(eventID) == true)
        await #expect(throws: OperatorError.self) { try await queue.discard(first.reference.id, by: "sam", note: "again") }

        let rest = try await queue.discardAll(by: "sam", note: "all of them")
        #expect(rest.count == 3 && rest.allSatisfy { $0.recordID != nil })
        #expect(try await system.deadLetters().isEmpty)
        #expect(try await system.redis.range(of: queue.discardRecordStream).count == 4)
        await #expect(throws: OperatorError.self) { try await queue.discard("1-0", by: "sam", note: "none") }
    }

    @Test("stream ids compare by milliseconds, then by sequence")
    func streamIDOrder() {
        #expect(DeadLetterQueue.streamID("5-0", isAtOrBefore: "5-0"))
        #expect(DeadLetterQueue.streamID("5-1", isAtOrBefore: "10-0"))
        #expect(DeadLetterQueue.streamID("9-99", isAtOrBefore: "10-0"))
        #expect(!DeadLetterQueue.streamID("10-1", isAtOrBefore: "10-0"))
        #expect(!DeadLetterQueue.streamID("100-0", isAtOrBefore: "99-5"))
    }

    @Test("operators retrying the same dead letter at the same moment publish it once")
    func concurrentRetriesPublishOnce() async throws {
        let system = try await ChorusSystem.start([.audit])
        defer { Task { await system.shutdown() } }
        let (eventID, stream) = try await system.appendDeadLetteredEvent(groups: ["audit"])
        let letter = try #require(try await system.deadLetters().first)
        let target = system.operatorTarget
        let outcomes = try await withThrowingTaskGroup(of: DeadLetterRetry.self) { group in
            for _ in 0..<8 {
                group.addTask { try await DeadLetterQueue(target: target).retry(letter.reference.id) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0.outcome == .republished }.count == 1)
        #expect(outcomes.filter { $0.outcome == .alreadyRetried }.count == 7)
        #expect(Set(outcomes.compactMap(\.republishedID)).count == 1, "everyone is told the same new id")
        #expect(try await system.copies(of: eventID, in: stream) == 2)
    }

    @Test("an unknown dead letter id is reported as not found")
    func unknownID() async throws {
        let system = try await ChorusSystem.start([])
        defer { Task { await system.shutdown() } }
        let queue = DeadLetterQueue(target: system.operatorTarget)
        for id in ["1-0", "no-such-id"] {
            let error = await #expect(throws: OperatorError.self) { try await queue.show(id) }
            #expect(error?.exitStatus == 1)
            await #expect(throws: OperatorError.self) { try await queue.retry(id) }
        }
    }
}
