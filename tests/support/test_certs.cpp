// Test certificates with the OpenSSL 3 C API: EC P-256 keys, X509v3
// certificates with the extensions a verifying TLS peer checks, PEM files.
//
// Every OpenSSL object lives in a unique_ptr with its free function, so an
// exception thrown half-way leaks nothing.
//
// Threading: no shared state.
#include "test_certs.hpp"

#include <memory>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdexcept>
#include <string>

namespace rcache::test {
namespace {

namespace fs = std::filesystem;

template <class T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using name_ptr = std::unique_ptr<X509_NAME, deleter<X509_NAME, X509_NAME_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;

// Throws with OpenSSL's error queue appended (and drained).
[[noreturn]] void fail(const std::string& what) {
  std::string message = "test_certs: " + what;
  while (const unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    message += "; ";
    message += buf;
  }
  throw std::runtime_error(message);
}

void check(int ok, const char* what) {
  if (ok != 1) fail(what);
}

pkey_ptr make_key() {
  pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("EC P-256 key generation");
  return key;
}

name_ptr make_name(const char* common_name) {
  name_ptr name(X509_NAME_new());
  if (!name) fail("X509_NAME_new");
  check(
      X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("rcache tests"), -1, -1, 0),
      "X509_NAME O");
  check(X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0),
        "X509_NAME CN");
  return name;
}

// Adds one extension in openssl.cnf syntax ("critical,CA:TRUE", ...).
void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) fail(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

// A certificate for `key` named `common_name`, signed by `issuer_key`; the
// issuer certificate is null for the self-signed CA. Extensions that
// reference the issuer are added after the subject key identifier exists.
x509_ptr make_cert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key,
                   bool is_ca, const char* subject_alt_name, const char* extended_key_usage) {
  x509_ptr cert(X509_new());
  if (!cert) fail("X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

  unsigned char serial_bytes[16];
  check(RAND_bytes(serial_bytes, sizeof serial_bytes), "RAND_bytes");
  serial_bytes[0] &= 0x7f;  // a positive serial number
  bn_ptr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    fail("serial number");
  }
  // An hour of slack for clocks that disagree; 30 days outlives any test run.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600)) {
    fail("validity");
  }
  const name_ptr subject = make_name(common_name);
  check(X509_set_subject_name(cert.get(), subject.get()), "X509_set_subject_name");
  check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : subject.get()),
        "X509_set_issuer_name");
  check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");

  X509* signer = issuer ? issuer : cert.get();
  add_extension(cert.get(), signer, NID_basic_constraints,
                is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_extension(cert.get(), signer, NID_key_usage,
                is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (subject_alt_name) add_extension(cert.get(), signer, NID_subject_alt_name, subject_alt_name);
  if (extended_key_usage) {
    add_extension(cert.get(), signer, NID_ext_key_usage, extended_key_usage);
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) fail("X509_sign");
  return cert;
}

bio_ptr open_for_writing(const fs::path& path) {
  bio_ptr bio(BIO_new_file(path.c_str(), "w"));
  if (!bio) fail("cannot write " + path.string());
  return bio;
}

void write_cert(const fs::path& path, X509* cert) {
  auto bio = open_for_writing(path);
  check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
}

void write_key(const fs::path& path, EVP_PKEY* key) {
  {
    auto bio = open_for_writing(path);
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
          "PEM_write_bio_PrivateKey");
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace

tls_files write_test_certs(const fs::path& dir) {
  tls_files files{dir / "ca.crt",     dir / "ca.key",     dir / "server.crt",
                  dir / "server.key", dir / "client.crt", dir / "client.key"};

  const pkey_ptr ca_key = make_key();
  const x509_ptr ca =
      make_cert(ca_key.get(), "rcache test CA", nullptr, ca_key.get(), true, nullptr, nullptr);

  const pkey_ptr server_key = make_key();
  const x509_ptr server = make_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), false,
                                    "IP:127.0.0.1,DNS:localhost", "serverAuth,clientAuth");

  const pkey_ptr client_key = make_key();
  const x509_ptr client = make_cert(client_key.get(), "rcache test client", ca.get(), ca_key.get(),
                                    false, nullptr, "clientAuth");

  write_cert(files.ca_cert, ca.get());
  write_key(files.ca_key, ca_key.get());
  write_cert(files.server_cert, server.get());
  write_key(files.server_key, server_key.get());
  write_cert(files.client_cert, client.get());
  write_key(files.client_key, client_key.get());
  return files;
}

}  // namespace rcache::test
