import Crypto
import Foundation
import LocalServers
import SwiftASN1
import X509

/// The gateway's TLS certificate for a local run, and the certificate authority that signs it.
///
/// The authority is made once and kept in the data directory; trust `<data>/tls/ca.pem` (curl's
/// `--cacert`, or the system's store) to reach `https://localhost:8443` without warnings. The
/// gateway's certificate is made again at every start, for `localhost`, this host's name,
/// 127.0.0.1 and ::1, valid for 90 days. A deployment gives the gateway real certificates
/// instead (compose takes them as secrets).
public enum LocalCertificates {
    /// `<data>/tls/ca.pem`: the local authority's certificate, the one to trust.
    public static func authorityCertificate(dataDirectory: URL) -> URL {
        dataDirectory.appendingPathComponent("tls").appendingPathComponent("ca.pem")
    }

    /// `<data>/tls/gateway.pem`: the gateway's certificate, followed by the authority's.
    public static func gatewayCertificate(dataDirectory: URL) -> URL {
        dataDirectory.appendingPathComponent("tls").appendingPathComponent("gateway.pem")
    }

    /// `<data>/credentials/gateway-key.pem`: the gateway's private key, readable by its owner alone.
    public static func gatewayKey(dataDirectory: URL) -> URL {
        LocalStackCredentials.directory(dataDirectory: dataDirectory).appendingPathComponent("gateway-key.pem")
    }

    static func authorityKey(dataDirectory: URL) -> URL {
        LocalStackCredentials.directory(dataDirectory: dataDirectory).appendingPathComponent("ca-key.pem")
    }

    /// Makes the authority if there is none, then a fresh gateway certificate signed by it.
    public static func prepare(dataDirectory: URL, now: Date = Date()) throws {
        do {
            try LocalStackCredentials.createPrivateDirectory(LocalStackCredentials.directory(dataDirectory: dataDirectory))
            try FileManager.default.createDirectory(
                at: authorityCertificate(dataDirectory: dataDirectory).deletingLastPathComponent(), withIntermediateDirectories: true)
            let (authorityKey, authority) = try loadOrCreateAuthority(dataDirectory: dataDirectory, now: now)
            let key = P256.Signing.PrivateKey()
            let certificate = try gatewayCertificate(key: key, authority: authority, authorityKey: authorityKey, now: now)
            try LocalStackCredentials.writePrivate(key.pemRepresentation + "\n", to: gatewayKey(dataDirectory: dataDirectory))
            let chain = try certificate.serializeAsPEM().pemString + "\n" + authority.serializeAsPEM().pemString + "\n"
            try Data(chain.utf8).write(to: gatewayCertificate(dataDirectory: dataDirectory), options: .atomic)
        } catch let error as LocalServerError {
            throw error
        } catch {
            throw LocalServerError("cannot make the gateway's TLS certificate: \(error)")
        }
    }

    private static func loadOrCreateAuthority(dataDirectory: URL, now: Date) throws -> (P256.Signing.PrivateKey, Certificate) {
        let keyFile = authorityKey(dataDirectory: dataDirectory)
        let certificateFile = authorityCertificate(dataDirectory: dataDirectory)
        if let keyPEM = FileManager.default.contents(atPath: keyFile.path),
            let certificatePEM = FileManager.default.contents(atPath: certificateFile.path)
        {
            let key = try P256.Signing.PrivateKey(pemRepresentation: String(decoding: keyPEM, as: UTF8.self))
            let certificate = try Certificate(pemEncoded: String(decoding: certificatePEM, as: UTF8.self))
            if certificate.notValidAfter > now.addingTimeInterval(30 * 86_400) { return (key, certificate) }
        }
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Chorus")
            CommonName("Chorus local CA (\(ProcessInfo.processInfo.hostName))")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key))
        try LocalStackCredentials.writePrivate(key.pemRepresentation + "\n", to: keyFile)
        try Data((try certificate.serializeAsPEM().pemString + "\n").utf8).write(to: certificateFile, options: .atomic)
        return (key, certificate)
    }

    private static func gatewayCertificate(
        key: P256.Signing.PrivateKey, authority: Certificate, authorityKey: P256.Signing.PrivateKey, now: Date
    ) throws -> Certificate {
        let host = ProcessInfo.processInfo.hostName
        var names: [GeneralName] = [.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                                    .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1])))]
        if !host.isEmpty, host != "localhost" { names.append(.dnsName(host)) }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(90 * 86_400),
            issuer: authority.subject, subject: try DistinguishedName { CommonName("localhost") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(authorityKey))
    }
}
