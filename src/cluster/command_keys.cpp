// Command key positions and multi-key splitting rules; see command_keys.hpp.
#include "cluster/command_keys.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace rcache::cluster {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "*<n>\r\n" or "$<n>\r\n" at `pos`; advances past it.
bool read_header(std::string_view p, std::size_t& pos, char type, std::size_t& n) {
  if (pos >= p.size() || p[pos] != type) return false;
  auto end = p.find("\r\n", pos);
  if (end == std::string_view::npos) return false;
  auto [ptr, ec] = std::from_chars(p.data() + pos + 1, p.data() + end, n);
  if (ec != std::errc() || ptr != p.data() + end) return false;
  pos = end + 2;
  return true;
}

std::int64_t parse_count(std::string_view s) {
  std::int64_t n = -1;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return (ec == std::errc() && ptr == s.data() + s.size()) ? n : -1;
}

// Keys counted by a numkeys argument at `at`, starting right after it.
std::vector<std::size_t> numkeys_at(const command_args& args, std::size_t at) {
  std::vector<std::size_t> out;
  if (args.size() <= at) return out;
  auto n = parse_count(args[at]);
  if (n <= 0 || static_cast<std::size_t>(n) > args.size() - at - 1) return out;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) out.push_back(at + 1 + i);
  return out;
}

}  // namespace

result<std::vector<command_args>> split_payload(std::string_view p) {
  std::vector<command_args> out;
  std::size_t pos = 0;
  while (pos < p.size()) {
    std::size_t n = 0;
    if (!read_header(p, pos, '*', n) || n == 0) return make_error_code(error::resp_invalid_framing);
    command_args args;
    args.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t len = 0;
      if (!read_header(p, pos, '$', len) || p.size() - pos < len + 2 ||
          p.substr(pos + len, 2) != "\r\n") {
        return make_error_code(error::resp_invalid_framing);
      }
      args.push_back(p.substr(pos, len));
      pos += len + 2;
    }
    out.push_back(std::move(args));
  }
  return out;
}

void append_command(std::string& out, const command_args& args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (auto a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out += a;
    out += "\r\n";
  }
}

split_rule split_rule_for(std::string_view name) noexcept {
  if (iequals(name, "MGET")) return {merge_kind::concat, 1};
  if (iequals(name, "DEL") || iequals(name, "UNLINK") || iequals(name, "EXISTS") ||
      iequals(name, "TOUCH")) {
    return {merge_kind::sum, 1};
  }
  if (iequals(name, "MSET")) return {merge_kind::all_ok, 2};
  return {};
}

bool is_transaction_command(std::string_view name) noexcept {
  return iequals(name, "MULTI") || iequals(name, "EXEC") || iequals(name, "DISCARD") ||
         iequals(name, "WATCH") || iequals(name, "UNWATCH");
}

// ---- the table ------------------------------------------------------------

void command_table::add(const value& e, bool subcommand) {
  // [name, arity, flags, first, last, step, acl categories, tips, key specs, subcommands]
  if (!e.is_aggregate() || e.elements.size() < 6 || !e.elements[0].is_string()) return;
  key_spec s;
  s.first = static_cast<int>(e.elements[3].integer);
  s.last = static_cast<int>(e.elements[4].integer);
  s.step = static_cast<int>(e.elements[5].integer);
  for (const auto& f : e.elements[2].elements) {
    if (f.str == "movablekeys") s.movable = true;
  }
  if (!subcommand && e.elements.size() >= 10 && !e.elements[9].elements.empty()) {
    s.has_subcommands = true;
    for (const auto& sub : e.elements[9].elements) add(sub, true);
  }
  specs_[lower(e.elements[0].str)] = s;
}

result<command_table> command_table::from_command_reply(const value& reply) {
  if (!reply.is_aggregate() || reply.elements.empty()) {
    return make_error_code(error::unexpected_reply);
  }
  command_table t;
  for (const auto& e : reply.elements) t.add(e, false);
  if (t.specs_.empty()) return make_error_code(error::unexpected_reply);
  return t;
}

std::vector<std::size_t> command_table::keys(const command_args& args) const {
  std::vector<std::size_t> out;
  if (args.empty()) return out;
  const std::string name = lower(args[0]);

  // Commands whose keys are counted by an argument, or follow a token.
  if (name == "eval" || name == "evalsha" || name == "eval_ro" || name == "evalsha_ro" ||
      name == "fcall" || name == "fcall_ro" || name == "blmpop" || name == "bzmpop") {
    return numkeys_at(args, 2);
  }
  if (name == "sintercard" || name == "zintercard" || name == "zunion" || name == "zinter" ||
      name == "zdiff" || name == "lmpop" || name == "zmpop") {
    return numkeys_at(args, 1);
  }
  if (name == "zunionstore" || name == "zinterstore" || name == "zdiffstore") {
    out = numkeys_at(args, 2);
    if (args.size() > 1) out.insert(out.begin(), 1);
    return out;
  }
  if (name == "xread" || name == "xreadgroup") {
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (iequals(args[i], "STREAMS")) {
        const std::size_t rest = args.size() - i - 1;
        for (std::size_t k = 0; k < rest / 2; ++k) out.push_back(i + 1 + k);
        break;
      }
    }
    return out;
  }

  auto it = specs_.find(name);
  if (it != specs_.end() && it->second.has_subcommands && args.size() > 1) {
    if (auto sub = specs_.find(name + "|" + lower(args[1])); sub != specs_.end()) it = sub;
  }
  if (it == specs_.end() || it->second.first <= 0 || it->second.step <= 0) return out;
  const auto& s = it->second;
  const auto n = static_cast<int>(args.size());
  const int last = s.last < 0 ? n + s.last : std::min(s.last, n - 1);
  for (int i = s.first; i <= last && i < n; i += s.step) out.push_back(static_cast<std::size_t>(i));
  return out;
}

}  // namespace rcache::cluster
