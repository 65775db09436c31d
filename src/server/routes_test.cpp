// Unit tests of the route table: matching, captures and Allow; and the two
// documents that list the routes — docs/api.md's route table and
// docs/openapi.yaml's paths — held to the table, query parameters included.
#include "server/routes.hpp"

#include <algorithm>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sstream>

namespace rcache::server {
namespace {

using segments = std::vector<std::string_view>;

std::string read_source(const std::string& relative) {
  std::ifstream in(std::string(RCACHE_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::set<std::string> query_names(std::uint8_t bits) {
  std::set<std::string> out;
  if (bits & param_ttl) out.insert("ttl");
  if (bits & param_nx) out.insert("nx");
  if (bits & param_xx) out.insert("xx");
  if (bits & param_except) out.insert("except");
  if (bits & param_tags) out.insert("tags");
  if (bits & param_geo) {
    out.insert({"lon", "lat", "radius", "width", "height", "unit", "count", "any", "order"});
  }
  return out;
}

// "GET /v1/..." -> the query parameters the route takes.
using route_set = std::map<std::string, std::set<std::string>>;

route_set from_table() {
  route_set out;
  for (const auto& r : route_table()) {
    const auto name = std::string(method_name(r.method)) + " " + std::string(r.pattern);
    EXPECT_TRUE(out.emplace(name, query_names(r.query)).second) << name << " is in the table twice";
  }
  return out;
}

TEST(Routes, AMatchCapturesTheNamespaceAndTheKey) {
  const segments path = {"v1", "ns", "users", "keys", "user:{42}"};
  const auto m = match_route(http_method::put, path);
  ASSERT_NE(m.found, nullptr);
  EXPECT_EQ(m.found->op, api_op::put);
  EXPECT_EQ(m.found->right, api_right::write);
  EXPECT_EQ(m.pattern, "/v1/ns/{ns}/keys/{key}");
  EXPECT_EQ(m.ns, "users");
  EXPECT_EQ(m.key, "user:{42}");
  const auto ttl = match_route(http_method::head, segments{"v1", "ns", "a", "keys", "k", "ttl"});
  ASSERT_NE(ttl.found, nullptr);
  EXPECT_EQ(ttl.found->op, api_op::ttl);
  EXPECT_EQ(ttl.found->right, api_right::read);
  const segments ttl_key = {"v1", "ns", "a", "keys", "ttl"};  // the captures point into it
  const auto key_named_ttl = match_route(http_method::get, ttl_key);
  ASSERT_NE(key_named_ttl.found, nullptr);
  EXPECT_EQ(key_named_ttl.found->op, api_op::get) << "a key may be called ttl";
  EXPECT_EQ(key_named_ttl.key, "ttl");
}

TEST(Routes, AKnownPathWithAnotherMethodListsTheMethodsItTakes) {
  auto m = match_route(http_method::post, segments{"v1", "ns", "a", "keys", "k"});
  EXPECT_EQ(m.found, nullptr);
  EXPECT_EQ(m.pattern, "/v1/ns/{ns}/keys/{key}");
  EXPECT_EQ(m.allow, "GET, HEAD, PUT, DELETE");
  m = match_route(http_method::other, segments{"healthz"});
  EXPECT_EQ(m.allow, "GET, HEAD");
  EXPECT_EQ(m.ns, "") << "no capture on a pattern without {ns}";
  m = match_route(http_method::get, segments{"v1", "ns", "a", "batch", "get"});
  EXPECT_EQ(m.allow, "POST");
  EXPECT_EQ(match_route(http_method::get, segments{"healthz"}).allow, "") << "a match has none";
}

TEST(Routes, AnUnknownOrLongerPathMatchesNothing) {
  for (const auto& path :
       {segments{}, segments{"v1"}, segments{"v1", "ns", "a", "keys"},
        segments{"v1", "ns", "a", "keys", "k", "ttl", "x"}, segments{"v2", "ns", "a", "keys", "k"},
        segments{"healthz", ""}, segments(50, "x")}) {
    const auto m = match_route(http_method::get, path);
    EXPECT_EQ(m.found, nullptr);
    EXPECT_TRUE(m.pattern.empty());
    EXPECT_TRUE(m.allow.empty());
  }
}

TEST(Routes, TheRowsOfAPatternAreAdjacent) {  // match_route stops at the first other pattern
  std::set<std::string_view> done;
  std::string_view previous;
  for (const auto& r : route_table()) {
    if (r.pattern == previous) continue;
    EXPECT_TRUE(done.insert(r.pattern).second) << r.pattern << " is split in the table";
    previous = r.pattern;
  }
}

TEST(Routes, EveryPatternFitsTheSegmentBound) {
  for (const auto& r : route_table()) {
    const auto n = std::count(r.pattern.begin(), r.pattern.end(), '/');
    EXPECT_LE(static_cast<std::size_t>(n), max_route_segments) << r.pattern;
  }
}

// The text between the first `open` at or after `from` and the next
// `close`; empty when there is none. `from` moves past the match.
std::string between(const std::string& s, std::size_t& from, char open, char close) {
  const auto a = s.find(open, from);
  if (a == std::string::npos) return from = s.size(), std::string{};
  const auto b = s.find(close, a + 1);
  if (b == std::string::npos) return from = s.size(), std::string{};
  from = b + 1;
  return s.substr(a + 1, b - a - 1);
}

// The names of "a=&b=" (the part of a documented path after '?').
std::set<std::string> names_of(const std::string& query) {
  std::set<std::string> out;
  std::istringstream ps(query);
  for (std::string p; std::getline(ps, p, '&');) out.insert(p.substr(0, p.find('=')));
  return out;
}

// docs/api.md, "### Routes": | `GET`, `HEAD` | `/path?ttl=&nx=` | ... |
TEST(Routes, TheApiPageListsEveryRouteAndItsQueryParameters) {
  const auto doc = read_source("docs/api.md");
  ASSERT_FALSE(doc.empty()) << "docs/api.md not found";
  const auto start = doc.find("### Routes\n");
  ASSERT_NE(start, std::string::npos);
  std::istringstream lines(doc.substr(start));
  route_set documented;
  std::string line;
  std::getline(lines, line);  // the heading
  bool seen_table = false;
  while (std::getline(lines, line)) {
    if (!line.starts_with("|")) {
      if (seen_table) break;
      continue;
    }
    seen_table = true;
    const auto cells_end = line.find(" | ", 2);
    if (!line.starts_with("| `") || cells_end == std::string::npos) continue;  // header rows
    const auto methods = line.substr(2, cells_end - 2);
    std::size_t at = cells_end + 2;
    const auto target = between(line, at, '`', '`');
    const auto q = target.find('?');
    const auto path = target.substr(0, q);
    const auto query =
        q == std::string::npos ? std::set<std::string>{} : names_of(target.substr(q + 1));
    for (std::size_t m = 0; m < methods.size();) {
      const auto method = between(methods, m, '`', '`');
      if (method.empty()) break;
      EXPECT_TRUE(documented.emplace(method + " " + path, query).second)
          << line << " is listed twice";
    }
  }
  EXPECT_EQ(documented, from_table()) << "docs/api.md's route table and routes.cpp differ";
}

// "  name:" (exactly `indent` spaces, a word, a colon) -> "name", else "".
std::string yaml_key(const std::string& line, std::size_t indent) {
  if (line.size() < indent + 2 || line.back() != ':') return {};
  if (line.find_first_not_of(' ') != indent) return {};
  auto key = line.substr(indent, line.size() - indent - 1);
  return key.find_first_of(" :") == std::string::npos ? key : std::string{};
}

// docs/openapi.yaml: "  /path:" then "    get:" ..., query parameters
// inline ("- name: ttl" then "in: query") or by $ref to a query component.
TEST(Routes, TheOpenApiFileDescribesEveryRouteAndItsQueryParameters) {
  const auto doc = read_source("docs/openapi.yaml");
  ASSERT_FALSE(doc.empty()) << "docs/openapi.yaml not found";
  std::vector<std::string> lines;
  {
    std::istringstream in(doc);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  const auto value_of = [](const std::string& l) { return l.substr(l.find(": ") + 2); };
  const std::string ref_prefix = "$ref: \"#/components/parameters/";
  // Query parameters among the components: their name by component.
  std::map<std::string, std::string> query_components;
  bool in_components = false;
  std::string component;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i] == "  parameters:")
      in_components = true;
    else if (!lines[i].starts_with("    ") && !lines[i].empty())
      in_components = false;
    if (!in_components) continue;
    if (const auto k = yaml_key(lines[i], 4); !k.empty()) component = k;
    if (lines[i] == "      in: query") query_components[component] = value_of(lines[i - 1]);
  }
  static const std::set<std::string> methods = {"get", "head", "put", "post", "patch", "delete"};
  route_set described;
  std::string path;
  std::string current;
  bool in_paths = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    if (l == "paths:") {
      in_paths = true;
      continue;
    }
    if (!l.empty() && l.front() != ' ') in_paths = false;
    if (!in_paths) continue;
    const auto trimmed = l.substr(std::min(l.size(), l.find_first_not_of(' ')));
    if (const auto p = yaml_key(l, 2); p.starts_with("/")) {
      path = p;
      current.clear();
    } else if (const auto m = yaml_key(l, 4); methods.count(m)) {
      std::string upper = m;
      for (auto& c : upper) c = static_cast<char>(std::toupper(c));
      current = upper + " " + path;
      EXPECT_TRUE(described.emplace(current, std::set<std::string>{}).second) << current;
    } else if (current.empty()) {
      continue;
    } else if (trimmed.starts_with("- name: ") && i + 1 < lines.size() &&
               lines[i + 1].find("in: query") != std::string::npos) {
      described[current].insert(value_of(trimmed));
    } else if (const auto r = trimmed.find(ref_prefix); r != std::string::npos) {
      auto name = trimmed.substr(r + ref_prefix.size());
      name = name.substr(0, name.find('"'));
      if (query_components.count(name)) described[current].insert(query_components[name]);
    }
  }
  EXPECT_EQ(described, from_table()) << "docs/openapi.yaml's paths and routes.cpp differ";
}

}  // namespace
}  // namespace rcache::server
