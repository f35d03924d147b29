import ArgumentParser
import Foundation
import Identity
import LocalStack

/// `chorus token`: mint a bearer token with the local issuer's key.
struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a bearer token for a customer or a member of staff, signed by the local `chorus up` issuer.",
        discussion: """
            Examples:
              curl -H "Authorization: Bearer $(chorus token --customer cus-0001)" http://127.0.0.1:8080/customers/cus-0001
              chorus token --staff alice --role admin
            The key is the one `chorus up` made in CHORUS_DATA_DIR (default .chorus)/credentials. Against a real \
            identity provider, get tokens from it instead. Exits 77 when there is no local key.
            """
    )

    @Option(help: "The customer the token is for (its subject).")
    var customer: String?

    @Option(help: "The member of staff the token is for (its subject); give at least one --role.")
    var staff: String?

    @Option(name: .customLong("role"), help: "A staff role: admin, inventory or support (repeatable).")
    var roles: [String] = []

    @Option(help: "Seconds the token is valid for.")
    var ttl: Int = 3_600

    @Option(help: ArgumentHelp(
        "Sign with this P-256 key (PEM) instead of the local `chorus up` key: compose's token-signing-key.pem, say.",
        valueName: "file"))
    var keyFile: String?

    @Option(help: "The issuer (iss) to name, with --key-file; it must be the services' CHORUS_TOKEN_ISSUER.")
    var issuer: String?

    @Option(help: "The audience (aud) to name, with --key-file (default: chorus).")
    var audience: String = "chorus"

    func validate() throws {
        switch (customer, staff) {
        case (nil, nil), (.some, .some): throw ValidationError("give either --customer ID or --staff NAME --role ROLE")
        case (.some, nil) where !roles.isEmpty: throw ValidationError("--role is for staff tokens")
        case (nil, .some) where roles.isEmpty: throw ValidationError("--staff needs at least one --role (admin, inventory or support)")
        default: break
        }
        for role in roles where StaffRole(rawValue: role) == nil {
            throw ValidationError("--role \(role) is not a staff role: admin, inventory or support")
        }
        guard (1...31_536_000).contains(ttl) else { throw ValidationError("--ttl must be from 1 to 31536000 seconds") }
        if keyFile != nil, issuer == nil { throw ValidationError("--key-file needs --issuer (the services' CHORUS_TOKEN_ISSUER)") }
        if keyFile == nil, issuer != nil { throw ValidationError("--issuer goes with --key-file") }
    }

    func run() async throws {
        let caller: Caller =
            if let customer { .customer(id: customer) } else { .staff(name: staff ?? "", roles: Set(roles.compactMap(StaffRole.init(rawValue:)))) }
        let signer: TokenIssuer
        if let keyFile, let issuer {
            guard let pem = FileManager.default.contents(atPath: keyFile) else {
                FileHandle.standardError.write(Data("chorus: cannot read \(keyFile)\n".utf8))
                throw ExitCode(77)
            }
            do {
                signer = TokenIssuer(key: try TokenSigningKey(pem: String(decoding: pem, as: UTF8.self)), issuer: issuer, audience: audience)
            } catch {
                FileHandle.standardError.write(Data("chorus: \(keyFile): \(error)\n".utf8))
                throw ExitCode(77)
            }
        } else {
            signer = try CallerTokens.localIssuer()
        }
        print(try await signer.token(for: caller, lifetime: .seconds(ttl)))
    }
}

/// The tokens the CLI's HTTP commands send: `CHORUS_TOKEN` when it is set (a token from a real
/// identity provider), else one minted for the purpose by the local issuer.
enum CallerTokens {
    static var dataDirectory: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["CHORUS_DATA_DIR"] ?? ".chorus")
    }

    /// The local `chorus up` issuer; exits 77 when there is none.
    static func localIssuer() throws -> TokenIssuer {
        let issuer: TokenIssuer?
        do {
            issuer = try LocalIdentity.issuer(dataDirectory: dataDirectory)
        } catch {
            FileHandle.standardError.write(Data("chorus: \(error)\n".utf8))
            throw ExitCode(77)
        }
        guard let issuer else {
            FileHandle.standardError.write(Data("""
                chorus: no token signing key in \(LocalIdentity.keyFile(dataDirectory: dataDirectory).standardizedFileURL.path): \
                run from where `chorus up` runs, set CHORUS_DATA_DIR, or set CHORUS_TOKEN to a token from your identity provider

                """.utf8))
            throw ExitCode(77)
        }
        return issuer
    }

    /// `Authorization` for a request made as `caller` (or as `CHORUS_TOKEN`'s subject).
    static func header(as caller: Caller) async throws -> [String: String] {
        if let token = ProcessInfo.processInfo.environment["CHORUS_TOKEN"], !token.isEmpty { return ["Authorization": "Bearer \(token)"] }
        return ["Authorization": "Bearer \(try await localIssuer().token(for: caller, lifetime: .seconds(300)))"]
    }

    /// Who operator commands read as: support staff, who may read any checkout.
    static let operatorReader = Caller.staff(name: "chorus-cli", roles: [.support])
}
