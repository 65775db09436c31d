// A deterministic corpus of realistic JSON cache values, for measuring what
// the value codec saves (bytes per value, Redis MEMORY USAGE) and what it
// costs.
//
// Three kinds of record, in about equal numbers:
//   user:<id>        a user profile with address, preferences and a list of
//                    recent sessions (login events with device and IP);
//   product:<sku>    a catalogue entry with description, attributes and a
//                    list of customer reviews;
//   api:orders:<n>   one page of an orders API response (orders with line
//                    items, totals, status history).
// Field names repeat as they do in real payloads; values come from small
// vocabularies (names, cities, statuses, products, words) mixed with unique,
// incompressible parts (ids, hex request ids, IPs, timestamps), so the data
// compresses the way typical cached JSON does rather than absurdly well.
//
// Sizes are skewed towards small values (most cached JSON is small, most
// bytes are in the large values): within [min_bytes, max_bytes], which
// defaults to 200 B .. 20 KiB. Every record is valid JSON.
//
// The same options give the same bytes on every platform: the generator
// uses its own integer PRNG (splitmix64) and no floating point, never
// <random>'s distributions (their output differs between standard
// libraries).
//
// Header-only. Threading: make_json_corpus is a pure function.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rcache::bench {

struct corpus_options {
  std::uint64_t seed = 0x5eedc0dec0ffeeULL;
  std::size_t records = 1500;
  /// Bounds of a record's size in bytes; keep max_bytes >= 2 KiB (the largest
  /// fixed part of a record is about 1 KiB, the smallest about 200 B).
  std::size_t min_bytes = 200;
  std::size_t max_bytes = 20 * 1024;
};

struct corpus_record {
  std::string key;        // a Redis key, unique in the corpus
  std::string value;      // the JSON document
  std::string_view kind;  // "user", "product" or "api"
};

namespace corpus_detail {

// splitmix64: tiny, fast, identical everywhere.
class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform enough in [0, n) for test data; n > 0.
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) noexcept {
    return lo + below(hi - lo + 1);
  }
  bool chance(unsigned percent) noexcept { return below(100) < percent; }
  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& a) noexcept {
    return a[below(N)];
  }

 private:
  std::uint64_t state_;
};

inline constexpr std::array<std::string_view, 32> first_names{
    "James", "Mary",  "John",   "Patricia", "Robert", "Jennifer", "Michael", "Linda",
    "David", "Sarah", "Daniel", "Laura",    "Thomas", "Emma",     "Lucas",   "Sofia",
    "Noah",  "Mia",   "Liam",   "Olivia",   "Ahmed",  "Fatima",   "Wei",     "Yuki",
    "Ivan",  "Elena", "Pedro",  "Ana",      "Kofi",   "Amara",    "Lars",    "Ingrid"};
inline constexpr std::array<std::string_view, 24> last_names{
    "Smith",  "Johnson", "Williams", "Brown",  "Garcia", "Miller", "Davis",    "Martinez",
    "Muller", "Schmidt", "Rossi",    "Dubois", "Silva",  "Santos", "Kowalski", "Novak",
    "Tanaka", "Chen",    "Wang",     "Kumar",  "Okafor", "Hansen", "Jensen",   "Petrov"};
inline constexpr std::array<std::string_view, 6> email_domains{
    "gmail.com", "outlook.com", "yahoo.com", "example.com", "proton.me", "icloud.com"};
struct city {
  std::string_view name, country, timezone, language;
};
inline constexpr std::array<city, 12> cities{{
    {"Berlin", "DE", "Europe/Berlin", "de-DE"},
    {"Munich", "DE", "Europe/Berlin", "de-DE"},
    {"Paris", "FR", "Europe/Paris", "fr-FR"},
    {"London", "GB", "Europe/London", "en-GB"},
    {"Madrid", "ES", "Europe/Madrid", "es-ES"},
    {"New York", "US", "America/New_York", "en-US"},
    {"San Francisco", "US", "America/Los_Angeles", "en-US"},
    {"Chicago", "US", "America/Chicago", "en-US"},
    {"Toronto", "CA", "America/Toronto", "en-CA"},
    {"Sao Paulo", "BR", "America/Sao_Paulo", "pt-BR"},
    {"Tokyo", "JP", "Asia/Tokyo", "ja-JP"},
    {"Sydney", "AU", "Australia/Sydney", "en-AU"},
}};
inline constexpr std::array<std::string_view, 10> streets{
    "Main Street",  "Oak Avenue",  "Park Road",  "High Street", "Church Lane",
    "Station Road", "Maple Drive", "Elm Street", "Mill Lane",   "Victoria Road"};
inline constexpr std::array<std::string_view, 6> devices{
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "okhttp/4.12.0"};
inline constexpr std::array<std::string_view, 5> session_events{"login", "logout", "refresh",
                                                                "password_change", "mfa"};
inline constexpr std::array<std::string_view, 12> categories{
    "Kitchen", "Electronics", "Garden",   "Books", "Toys",   "Sports",
    "Beauty",  "Office",      "Clothing", "Shoes", "Health", "Automotive"};
inline constexpr std::array<std::string_view, 12> brands{
    "Acme",  "Globex",   "Initech", "Umbrella", "Stark",     "Wayne",
    "Hooli", "Vandelay", "Soylent", "Tyrell",   "Cyberdyne", "Wonka"};
inline constexpr std::array<std::string_view, 16> adjectives{
    "Premium", "Classic", "Compact", "Portable",   "Wireless", "Deluxe",  "Eco",    "Smart",
    "Pro",     "Ultra",   "Mini",    "Heavy-Duty", "Organic",  "Vintage", "Modern", "Essential"};
inline constexpr std::array<std::string_view, 16> nouns{
    "Water Bottle", "Headphones", "Backpack",   "Desk Lamp", "Coffee Grinder", "Yoga Mat",
    "Blender",      "Notebook",   "Sneakers",   "Jacket",    "Charger",        "Toolkit",
    "Frying Pan",   "Speaker",    "Sunglasses", "Keyboard"};
inline constexpr std::array<std::string_view, 8> colors{"black", "white", "red",  "blue",
                                                        "green", "grey",  "navy", "silver"};
inline constexpr std::array<std::string_view, 6> currencies{"EUR", "USD", "GBP",
                                                            "JPY", "BRL", "CAD"};
inline constexpr std::array<std::string_view, 6> order_statuses{
    "pending", "paid", "shipped", "delivered", "cancelled", "refunded"};
inline constexpr std::array<std::string_view, 4> carriers{"DHL", "UPS", "FedEx", "USPS"};
inline constexpr std::array<std::string_view, 96> words{
    "the",      "quality",  "is",        "great",       "and",       "it",      "works",
    "as",       "expected", "after",     "two",         "weeks",     "of",      "daily",
    "use",      "battery",  "lasts",     "long",        "enough",    "for",     "a",
    "full",     "day",      "delivery",  "was",         "fast",      "but",     "the",
    "box",      "arrived",  "slightly",  "damaged",     "customer",  "service", "replaced",
    "without",  "any",      "questions", "would",       "recommend", "this",    "to",
    "friends",  "family",   "price",     "value",       "design",    "feels",   "solid",
    "light",    "easy",     "clean",     "setup",       "took",      "minutes", "instructions",
    "are",      "clear",    "sound",     "comfortable", "size",      "fits",    "perfectly",
    "material", "durable",  "color",     "matches",     "photos",    "not",     "what",
    "I",        "hoped",    "returned",  "refund",      "quick",     "support", "team",
    "helpful",  "will",     "buy",       "again",       "better",    "than",    "previous",
    "model",    "upgrade",  "worth",     "every",       "penny",     "made",    "with",
    "care",     "in",       "small",     "batches",     "new"};

// ---- JSON building ------------------------------------------------------------------

inline void add_uint(std::string& out, std::uint64_t v) {
  out += std::to_string(v);
}

inline void add_str(std::string& out, std::string_view s) {
  out += '"';
  out += s;  // the vocabularies need no escaping
  out += '"';
}

inline void add_field_name(std::string& out, std::string_view name, bool& first) {
  if (!first) out += ',';
  first = false;
  add_str(out, name);
  out += ':';
}

// A fixed-point decimal: cents 2499 -> 24.99.
inline void add_decimal(std::string& out, std::uint64_t hundredths) {
  add_uint(out, hundredths / 100);
  out += '.';
  out += static_cast<char>('0' + hundredths / 10 % 10);
  out += static_cast<char>('0' + hundredths % 10);
}

inline void add_two_digits(std::string& out, std::uint64_t v) {
  out += static_cast<char>('0' + v / 10 % 10);
  out += static_cast<char>('0' + v % 10);
}

// An ISO 8601 UTC timestamp in 2020..2024.
inline void add_timestamp(std::string& out, rng& r) {
  out += '"';
  add_uint(out, r.between(2020, 2024));
  out += '-';
  add_two_digits(out, r.between(1, 12));
  out += '-';
  add_two_digits(out, r.between(1, 28));
  out += 'T';
  add_two_digits(out, r.below(24));
  out += ':';
  add_two_digits(out, r.below(60));
  out += ':';
  add_two_digits(out, r.below(60));
  out += "Z\"";
}

inline void add_hex(std::string& out, rng& r, std::size_t digits) {
  static constexpr std::string_view hex = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < digits; ++i) out += hex[r.below(16)];
  out += '"';
}

inline void add_ip(std::string& out, rng& r) {
  out += '"';
  out += r.chance(50) ? "10." : "192.168.";
  add_uint(out, r.below(256));
  out += '.';
  add_uint(out, r.below(256));
  out += '"';
}

inline void add_sentence(std::string& out, rng& r, std::size_t n_words) {
  out += '"';
  for (std::size_t i = 0; i < n_words; ++i) {
    if (i) out += ' ';
    out += r.pick(words);
  }
  out += ".\"";
}

// ---- records ------------------------------------------------------------------------
//
// Each record is a fixed part, then an array filled with items until the
// record reaches its target size (never past max_bytes).

// Appends items from `make_item` to the array `out` is currently in, then
// `tail` (which closes the array and the record).
template <class MakeItem>
void fill_array(std::string& out, std::string_view tail, std::size_t target,
                const corpus_options& o, MakeItem make_item) {
  bool first = true;
  std::string item;
  while (out.size() + tail.size() < target || out.size() + tail.size() < o.min_bytes) {
    item.clear();
    if (!first) item += ',';
    make_item(item);
    if (out.size() + item.size() + tail.size() > o.max_bytes) break;
    out += item;
    first = false;
  }
  out += tail;
}

inline std::string make_user(rng& r, std::uint64_t id, std::size_t target,
                             const corpus_options& o) {
  const auto& first_name = r.pick(first_names);
  const auto& last_name = r.pick(last_names);
  const auto& home = r.pick(cities);
  std::string out = "{";
  bool f = true;
  add_field_name(out, "id", f);
  add_uint(out, id);
  add_field_name(out, "username", f);
  add_str(out, std::string(first_name.substr(0, 1)) + std::string(last_name) +
                   std::to_string(r.below(100)));
  add_field_name(out, "email", f);
  add_str(out, std::string(first_name) + "." + std::string(last_name) + "@" +
                   std::string(r.pick(email_domains)));
  add_field_name(out, "name", f);
  out += "{\"first\":";
  add_str(out, first_name);
  out += ",\"last\":";
  add_str(out, last_name);
  out += '}';
  add_field_name(out, "created_at", f);
  add_timestamp(out, r);
  add_field_name(out, "verified", f);
  out += r.chance(80) ? "true" : "false";
  add_field_name(out, "address", f);
  out += "{\"street\":";
  add_str(out, std::to_string(r.between(1, 250)) + " " + std::string(r.pick(streets)));
  out += ",\"city\":";
  add_str(out, home.name);
  out += ",\"country\":";
  add_str(out, home.country);
  out += ",\"postal_code\":";
  add_str(out, std::to_string(r.between(10000, 99999)));
  out += '}';
  add_field_name(out, "preferences", f);
  out += "{\"language\":";
  add_str(out, home.language);
  out += ",\"timezone\":";
  add_str(out, home.timezone);
  out += ",\"newsletter\":";
  out += r.chance(40) ? "true" : "false";
  out += ",\"theme\":";
  add_str(out, r.chance(60) ? "light" : "dark");
  out += ",\"notifications\":{\"email\":true,\"push\":";
  out += r.chance(50) ? "true" : "false";
  out += ",\"sms\":false}}";
  add_field_name(out, "roles", f);
  out += r.chance(10) ? "[\"user\",\"admin\"]" : "[\"user\"]";
  add_field_name(out, "sessions", f);
  out += '[';
  fill_array(out, "]}", target, o, [&](std::string& item) {
    const auto& where = r.chance(85) ? home : r.pick(cities);
    item += "{\"session_id\":";
    add_hex(item, r, 16);
    item += ",\"event\":";
    add_str(item, r.pick(session_events));
    item += ",\"at\":";
    add_timestamp(item, r);
    item += ",\"ip\":";
    add_ip(item, r);
    item += ",\"user_agent\":";
    add_str(item, r.pick(devices));
    item += ",\"location\":{\"city\":";
    add_str(item, where.name);
    item += ",\"country\":";
    add_str(item, where.country);
    item += "},\"success\":";
    item += r.chance(95) ? "true" : "false";
    item += '}';
  });
  return out;
}

inline std::string make_product(rng& r, std::uint64_t sku, std::size_t target,
                                const corpus_options& o) {
  std::string out = "{";
  bool f = true;
  add_field_name(out, "sku", f);
  add_str(out, "SKU-" + std::to_string(sku));
  add_field_name(out, "name", f);
  add_str(out, std::string(r.pick(adjectives)) + " " + std::string(r.pick(nouns)));
  add_field_name(out, "brand", f);
  add_str(out, r.pick(brands));
  add_field_name(out, "category", f);
  add_str(out, r.pick(categories));
  add_field_name(out, "price", f);
  out += "{\"amount\":";
  add_decimal(out, r.between(199, 49999));
  out += ",\"currency\":";
  add_str(out, r.pick(currencies));
  out += '}';
  add_field_name(out, "stock", f);
  add_uint(out, r.below(500));
  add_field_name(out, "rating", f);
  add_uint(out, r.between(1, 4));
  out += '.';
  add_uint(out, r.below(10));
  add_field_name(out, "description", f);
  add_sentence(out, r, r.between(12, 40));
  add_field_name(out, "attributes", f);
  out += "{\"color\":";
  add_str(out, r.pick(colors));
  out += ",\"weight_grams\":";
  add_uint(out, r.between(50, 5000));
  out += ",\"dimensions_cm\":{\"width\":";
  add_uint(out, r.between(5, 80));
  out += ",\"height\":";
  add_uint(out, r.between(5, 80));
  out += ",\"depth\":";
  add_uint(out, r.between(1, 40));
  out += "},\"warranty_months\":";
  add_uint(out, r.chance(50) ? 12 : 24);
  out += '}';
  add_field_name(out, "reviews", f);
  out += '[';
  fill_array(out, "]}", target, o, [&](std::string& item) {
    item += "{\"review_id\":";
    add_uint(item, r.between(1'000'000, 9'999'999));
    item += ",\"user_id\":";
    add_uint(item, r.between(100'000, 999'999));
    item += ",\"author\":";
    add_str(item, r.pick(first_names));
    item += ",\"rating\":";
    add_uint(item, r.between(1, 5));
    item += ",\"title\":";
    add_sentence(item, r, r.between(2, 6));
    item += ",\"body\":";
    add_sentence(item, r, r.between(8, 60));
    item += ",\"verified_purchase\":";
    item += r.chance(70) ? "true" : "false";
    item += ",\"helpful_votes\":";
    add_uint(item, r.below(50));
    item += ",\"created_at\":";
    add_timestamp(item, r);
    item += '}';
  });
  return out;
}

inline std::string make_orders_page(rng& r, std::uint64_t page, std::size_t target,
                                    const corpus_options& o) {
  std::string out = "{";
  bool f = true;
  add_field_name(out, "status", f);
  add_str(out, "ok");
  add_field_name(out, "request_id", f);
  add_hex(out, r, 32);
  add_field_name(out, "page", f);
  add_uint(out, page);
  add_field_name(out, "per_page", f);
  add_uint(out, 50);
  add_field_name(out, "total", f);
  add_uint(out, r.between(100, 20000));
  add_field_name(out, "data", f);
  out += '[';
  fill_array(out, "]}", target, o, [&](std::string& item) {
    const auto& currency = r.pick(currencies);
    item += "{\"order_id\":";
    add_uint(item, r.between(10'000'000, 99'999'999));
    item += ",\"customer_id\":";
    add_uint(item, r.between(100'000, 999'999));
    item += ",\"status\":";
    add_str(item, r.pick(order_statuses));
    item += ",\"currency\":";
    add_str(item, currency);
    item += ",\"items\":[";
    const auto n = r.between(1, 4);
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto price = r.between(199, 19999);
      const auto qty = r.between(1, 3);
      total += price * qty;
      if (i) item += ',';
      item += "{\"sku\":";
      add_str(item, "SKU-" + std::to_string(r.between(10000, 10999)));
      item += ",\"name\":";
      add_str(item, std::string(r.pick(adjectives)) + " " + std::string(r.pick(nouns)));
      item += ",\"quantity\":";
      add_uint(item, qty);
      item += ",\"unit_price\":";
      add_decimal(item, price);
      item += '}';
    }
    item += "],\"total\":";
    add_decimal(item, total);
    item += ",\"shipping\":{\"carrier\":";
    add_str(item, r.pick(carriers));
    item += ",\"tracking\":";
    add_hex(item, r, 12);
    item += ",\"city\":";
    add_str(item, r.pick(cities).name);
    item += "},\"created_at\":";
    add_timestamp(item, r);
    item += ",\"updated_at\":";
    add_timestamp(item, r);
    item += '}';
  });
  return out;
}

// A target size in [lo, hi], skewed towards lo: lo + (hi - lo) * u^3 with u
// uniform in [0, 1), in 20-bit fixed point.
inline std::size_t target_size(rng& r, std::size_t lo, std::size_t hi) {
  constexpr unsigned bits = 20;
  const std::uint64_t u = r.below(std::uint64_t{1} << bits);
  std::uint64_t cube = (u * u) >> bits;
  cube = (cube * u) >> bits;
  return lo + static_cast<std::size_t>(((hi - lo) * cube) >> bits);
}

}  // namespace corpus_detail

/// Generates the corpus: o.records records, kinds in rotation, keys unique.
/// The same options always give the same records.
[[nodiscard]] inline std::vector<corpus_record> make_json_corpus(const corpus_options& o = {}) {
  namespace d = corpus_detail;
  d::rng r{o.seed};
  std::vector<corpus_record> out;
  out.reserve(o.records);
  for (std::size_t i = 0; i < o.records; ++i) {
    const std::size_t target = d::target_size(r, o.min_bytes, o.max_bytes);
    corpus_record rec;
    switch (i % 3) {
      case 0:
        rec.kind = "user";
        rec.key = "user:" + std::to_string(100'000 + i);
        rec.value = d::make_user(r, 100'000 + i, target, o);
        break;
      case 1:
        rec.kind = "product";
        rec.key = "product:SKU-" + std::to_string(500'000 + i);
        rec.value = d::make_product(r, 500'000 + i, target, o);
        break;
      default:
        rec.kind = "api";
        rec.key = "api:orders:" + std::to_string(i / 3 + 1);
        rec.value = d::make_orders_page(r, i / 3 + 1, target, o);
        break;
    }
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace rcache::bench
