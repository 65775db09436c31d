// Throw-away TLS material for tests: a CA, a server certificate and a client
// certificate, generated with the OpenSSL 3 API and written as PEM files.
//
// The server certificate names IP:127.0.0.1 and DNS:localhost in its
// subjectAltName and is valid for both serverAuth and clientAuth (Redis
// presents it as a client certificate on TLS replication links); the client
// certificate is for mutual TLS (tls-auth-clients yes). Keys are EC P-256.
// Certificates are valid from an hour ago for 30 days.
//
// Threading: write_test_certs() has no shared state; OpenSSL 3 initialises
// itself thread-safely.
#pragma once

#include <filesystem>

namespace rcache::test {

/// Where write_test_certs() put each PEM file.
struct tls_files {
  std::filesystem::path ca_cert;
  std::filesystem::path ca_key;
  std::filesystem::path server_cert;
  std::filesystem::path server_key;
  std::filesystem::path client_cert;
  std::filesystem::path client_key;
};

/// Generates a fresh CA and the certificates it signs and writes them into
/// `dir` (which must exist) as ca.crt, ca.key, server.crt, server.key,
/// client.crt and client.key; keys get mode 0600. Throws std::runtime_error
/// with OpenSSL's error queue in the message on any failure.
tls_files write_test_certs(const std::filesystem::path& dir);

}  // namespace rcache::test
