import CheckoutDomain
import Foundation
import Observability
import ServiceSupport
import Testing

/// The Grafana dashboards and the compose Prometheus against the metric contract: a dashboard
/// may only chart what the code exports, and everything the code exports is charted somewhere.
@Suite("Dashboards")
struct DashboardTests {
    @Test("the metric-name extractor finds the series of a histogram quantile, not its functions or labels")
    func extractorSkipsFunctionsAggregationsAndLabels() {
        let expression = #"""
            histogram_quantile(0.95, sum by (le, group) (rate(chorus_consumer_handler_duration_seconds_bucket{group=~"$group"}[$__rate_interval])))
            """#
        #expect(PromQL.metricNames(in: expression) == ["chorus_consumer_handler_duration_seconds_bucket"])
    }

    @Test("the metric-name extractor finds every operand of binary operators, and none of the words in strings, matchers or modifiers")
    func extractorFindsEveryOperand() {
        let expression = #"""
            (sum by (job) (rate(errors_total{job=~"$service", status=~"5..", route="/checkouts"}[5m])) or sum by(job)(rate(requests_total[1m])) * 0)
              / on (job) group_left(instance) sum without (route) (requests_total offset 5m) > bool 0.5
              and count_values("version", build_info) unless max(up) BY (job)
            """#
        #expect(PromQL.metricNames(in: expression) == ["errors_total", "requests_total", "build_info", "up"])
    }

    @Test("the metric-name extractor reads a bare name, a subquery and Grafana's variables")
    func extractorReadsBareNamesSubqueriesAndVariables() {
        #expect(PromQL.metricNames(in: "up") == ["up"])
        #expect(PromQL.metricNames(in: "max_over_time(rate(a_total[$__rate_interval])[5m:1m]) + ${other}") == ["a_total"])
        #expect(PromQL.metricNames(in: "sum(increase(b_total[$__range])) # a comment naming not_a_metric") == ["b_total"])
    }

    @Test("expressions inside collapsed rows and metric names in template variables are found")
    func walkerFindsNestedExpressionsAndVariables() throws {
        let json = #"""
            {"uid": "x", "title": "X",
             "templating": {"list": [{"name": "g", "type": "query", "query": {"query": "label_values(var_metric{a=\"b\"}, group)"}},
                                     {"name": "h", "type": "query", "query": "label_values(job)"},
                                     {"name": "i", "type": "custom", "query": "a,b"}]},
             "panels": [{"type": "row", "collapsed": true,
                         "panels": [{"type": "timeseries", "targets": [{"expr": "rate(nested_total[1m])"}]}]},
                        {"type": "stat", "targets": [{"expr": "top_level"}]}]}
            """#
        let dashboard = try GrafanaDashboard(file: "x.json", data: Data(json.utf8))
        #expect(Set(dashboard.expressions) == ["rate(nested_total[1m])", "top_level"])
        #expect(dashboard.variableSelectors == ["var_metric{a=\"b\"}"])
        #expect(dashboard.metricNames == ["nested_total", "top_level", "var_metric"])
    }

    @Test("every dashboard has a title and a unique uid, and queries the provisioned Prometheus")
    func dashboardsHaveTitlesUIDsAndTheProvisionedDatasource() throws {
        let dashboards = try GrafanaDashboard.all()
        #expect(dashboards.count >= 4, "Saga overview, Streams, Event store and Per-service RED")
        for dashboard in dashboards {
            #expect(!(dashboard.title ?? "").isEmpty, "\(dashboard.file) has no title")
            #expect(!(dashboard.uid ?? "").isEmpty, "\(dashboard.file) has no uid")
            #expect(!dashboard.expressions.isEmpty, "\(dashboard.file) charts nothing")
            for uid in dashboard.datasourceUIDs {
                #expect(uid == GrafanaDashboard.datasourceUID, "\(dashboard.file) queries datasource \(uid)")
            }
        }
        let uids = dashboards.compactMap(\.uid)
        #expect(Set(uids).count == uids.count, "dashboard uids repeat: \(uids.sorted())")
        let provisioning = try String(
            contentsOf: GrafanaDashboard.repositoryRoot.appendingPathComponent("deploy/grafana/provisioning/datasources/prometheus.yaml"),
            encoding: .utf8)
        #expect(provisioning.contains("uid: \(GrafanaDashboard.datasourceUID)"))
        #expect(provisioning.contains("url: http://prometheus:9090"))
    }

    @Test("every PromQL expression in the dashboards names only metrics the code exports")
    func dashboardsNameOnlyExportedMetrics() throws {
        let exported = ChorusMetric.allSeriesNames
        for dashboard in try GrafanaDashboard.all() {
            for expression in dashboard.expressions + dashboard.variableSelectors {
                let names = PromQL.metricNames(in: expression)
                #expect(!names.isEmpty, "\(dashboard.file): no metric in \(expression)")
                let unknown = names.subtracting(exported)
                #expect(unknown.isEmpty, "\(dashboard.file) names \(unknown.sorted()), which no Chorus process exports, in: \(expression)")
            }
        }
    }

    @Test("every metric the code exports is charted by at least one dashboard")
    func everyExportedMetricIsWatched() throws {
        let used = try GrafanaDashboard.all().reduce(into: Set<String>()) { $0.formUnion($1.metricNames) }
        for metric in ChorusMetric.allCases {
            #expect(!used.isDisjoint(with: metric.seriesNames), "no dashboard charts \(metric.rawValue)")
        }
    }

    @Test("the compose Prometheus scrapes every service by name, at its port, and both checkout-api replicas")
    func composePrometheusScrapesEveryService() throws {
        let configuration = try String(
            contentsOf: GrafanaDashboard.repositoryRoot.appendingPathComponent("deploy/prometheus/prometheus.yml"), encoding: .utf8)
        let lines = configuration.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for worker in Worker.allCases {
            let port = ChorusConfiguration.defaultPort(of: worker)
            #expect(lines.contains("- job_name: \(worker.rawValue)"), "no job for \(worker.rawValue)")
            #expect(configuration.contains("\"\(worker.rawValue):\(port)\""), "\(worker.rawValue) is not scraped at port \(port)")
        }
        #expect(configuration.contains("\"checkout-api-2:\(ChorusConfiguration.defaultPort(of: .checkoutAPI))\""))
    }
}

// MARK: - Reading dashboards

/// A Grafana dashboard of `deploy/grafana/dashboards`, with the PromQL it runs.
struct GrafanaDashboard: Sendable {
    /// The uid of the datasource `deploy/grafana/provisioning` creates; every panel uses it.
    static let datasourceUID = "prometheus"

    let file: String
    let title: String?
    let uid: String?
    /// Every `expr` anywhere in the dashboard: panels, targets and panels nested in rows.
    let expressions: [String]
    /// The series selectors of `label_values(<selector>, <label>)` template variables.
    let variableSelectors: [String]
    /// The uid of every datasource any panel, target or variable names.
    let datasourceUIDs: Set<String>

    /// Every metric name the dashboard's expressions and variables use.
    var metricNames: Set<String> {
        (expressions + variableSelectors).reduce(into: Set<String>()) { $0.formUnion(PromQL.metricNames(in: $1)) }
    }

    /// The repository's root, found from this file's place in it.
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // Observability
            .deletingLastPathComponent()  // IntegrationTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()
    }

    /// Every dashboard in the repository, in file-name order.
    static func all() throws -> [GrafanaDashboard] {
        let directory = repositoryRoot.appendingPathComponent("deploy/grafana/dashboards")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { file in
            try GrafanaDashboard(file: file, data: Data(contentsOf: directory.appendingPathComponent(file)))
        }
    }

    init(file: String, data: Data) throws {
        let json = try JSONValue(data: data)
        self.file = file
        title = json["title"]?.string
        uid = json["uid"]?.string
        var expressions: [String] = []
        var datasources: Set<String> = []
        Self.walk(json) { key, value in
            if key == "expr", let expression = value.string { expressions.append(expression) }
            if key == "datasource", let uid = value["uid"]?.string { datasources.insert(uid) }
        }
        self.expressions = expressions
        datasourceUIDs = datasources
        variableSelectors = (json["templating"]?["list"]?.array ?? []).compactMap { variable in
            guard variable["type"]?.string == "query" else { return nil }
            let query = variable["query"]?.string ?? variable["query"]?["query"]?.string ?? ""
            return Self.selector(ofVariableQuery: query)
        }
    }

    /// Calls `visit` with every key and value of every object, at any depth.
    private static func walk(_ value: JSONValue, _ visit: (String, JSONValue) -> Void) {
        switch value {
        case .object(let members):
            for (key, member) in members {
                visit(key, member)
                walk(member, visit)
            }
        case .array(let elements):
            for element in elements { walk(element, visit) }
        default: break
        }
    }

    /// The series selector of Grafana's `label_values(<selector>, <label>)`; nil for the
    /// one-argument form, which names only a label.
    static func selector(ofVariableQuery query: String) -> String? {
        let trimmed = query.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("label_values("), trimmed.hasSuffix(")") else { return trimmed.isEmpty ? nil : trimmed }
        let arguments = trimmed.dropFirst("label_values(".count).dropLast()
        var depth = 0
        var lastTopLevelComma: String.Index?
        for index in arguments.indices {
            switch arguments[index] {
            case "(", "{", "[": depth += 1
            case ")", "}", "]": depth -= 1
            case "," where depth == 0: lastTopLevelComma = index
            default: break
            }
        }
        guard let comma = lastTopLevelComma else { return nil }
        return arguments[..<comma].trimmingCharacters(in: .whitespaces)
    }
}

// MARK: - PromQL

/// Just enough of PromQL to find the metric names an expression reads.
enum PromQL {
    /// What the extractor tells apart; literals keep no text, since they never name a metric.
    enum Token: Equatable {
        case identifier(String)
        case string
        case number
        /// A Grafana variable: `$name` or `${name}`.
        case variable
        case symbol(Character)
    }

    /// Aggregations, binary operators, modifiers and literals: identifiers that are not metrics.
    static let keywords: Set<String> = [
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
        "limitk", "limit_ratio", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
        "bool", "offset", "atan2", "inf", "nan",
    ]

    /// Keywords followed by a parenthesised list of label names.
    static let labelListKeywords: Set<String> = ["by", "without", "on", "ignoring", "group_left", "group_right"]

    /// The metric names `expression` selects: identifiers outside label matchers, ranges and
    /// label lists that are neither functions (followed by `(`) nor keywords.
    static func metricNames(in expression: String) -> Set<String> {
        let tokens = tokens(in: expression)
        var names: Set<String> = []
        var braceDepth = 0
        var bracketDepth = 0
        var index = 0
        while index < tokens.count {
            switch tokens[index] {
            case .symbol("{"): braceDepth += 1
            case .symbol("}"): braceDepth -= 1
            case .symbol("["): bracketDepth += 1
            case .symbol("]"): bracketDepth -= 1
            case .identifier(let name) where braceDepth == 0 && bracketDepth == 0:
                let word = name.lowercased()
                let opensParenthesis = index + 1 < tokens.count && tokens[index + 1] == .symbol("(")
                if labelListKeywords.contains(word) && opensParenthesis {
                    index += 2
                    while index < tokens.count && tokens[index] != .symbol(")") { index += 1 }
                } else if !opensParenthesis && !keywords.contains(word) {
                    names.insert(name)
                }
            default: break
            }
            index += 1
        }
        return names
    }

    /// Splits `expression` into identifiers, literals, Grafana variables and single symbols.
    static func tokens(in expression: String) -> [Token] {
        let characters = Array(expression)
        var tokens: [Token] = []
        var index = 0
        func isIdentifierStart(_ character: Character) -> Bool {
            character.isASCII && (character.isLetter || character == "_" || character == ":")
        }
        func isIdentifierPart(_ character: Character) -> Bool { isIdentifierStart(character) || (character.isASCII && character.isNumber) }
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace {
                index += 1
            } else if character == "#" {
                while index < characters.count && characters[index] != "\n" { index += 1 }
            } else if character == "\"" || character == "'" || character == "`" {
                index += 1
                while index < characters.count && characters[index] != character {
                    index += character != "`" && characters[index] == "\\" ? 2 : 1
                }
                index += 1
                tokens.append(.string)
            } else if character == "$" {
                index += 1
                if index < characters.count && characters[index] == "{" {
                    while index < characters.count && characters[index] != "}" { index += 1 }
                    index += 1
                } else {
                    while index < characters.count && isIdentifierPart(characters[index]) { index += 1 }
                }
                tokens.append(.variable)
            } else if character.isASCII && (character.isNumber || character == ".") {
                // Numbers and durations (0.95, 5m, 1h30m): digits with their unit letters.
                while index < characters.count && (isIdentifierPart(characters[index]) || characters[index] == ".") { index += 1 }
                tokens.append(.number)
            } else if isIdentifierStart(character) {
                let start = index
                while index < characters.count && isIdentifierPart(characters[index]) { index += 1 }
                tokens.append(.identifier(String(characters[start..<index])))
            } else {
                tokens.append(.symbol(character))
                index += 1
            }
        }
        return tokens
    }
}
