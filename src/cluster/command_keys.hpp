// Which arguments of a Redis command are keys, without I/O: what the
// cluster client needs to route a command to the node serving its slot and
// to split the multi-key commands it knows how to merge back.
//
// The table is built from the server's own COMMAND reply (name, arity,
// flags, first key, last key, step, ..., subcommands), so modules and new
// commands route correctly without a list kept here. Commands whose keys
// move (the "movablekeys" flag: EVAL, ZUNIONSTORE, XREAD, ...) get their
// numkeys / STREAMS rules below; any other movable command is routed by its
// declared range, and a wrong guess costs one MOVED redirection, which the
// client follows.
//
//   auto cmds = split_payload(req.payload());      // [[ "GET", "k" ], ...]
//   auto keys = table.keys((*cmds)[0]);            // argument indexes: {1}
//
// Threading: plain values; a built table is read-only and may be shared.
#pragma once

#include <rcache/error.hpp>
#include <rcache/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rcache::cluster {

/// One command's arguments (the name first), viewing the payload.
using command_args = std::vector<std::string_view>;

/// Splits a serialized request (RESP arrays of bulk strings, as
/// rcache::request writes them) into its commands. Errors:
/// error::resp_invalid_framing for anything else.
[[nodiscard]] result<std::vector<command_args>> split_payload(std::string_view payload);

/// Serializes `args` as one command onto `out`.
void append_command(std::string& out, const command_args& args);

/// How the replies of a command split by slot are merged back.
enum class merge_kind : std::uint8_t {
  none,    // not split: the command goes whole to one node
  concat,  // MGET: the arrays, back in key order
  sum,     // DEL, UNLINK, EXISTS, TOUCH: the integers added up
  all_ok,  // MSET: OK when every part is OK, else the first error
};

/// How `args` may be split across slots (by its name), and the number of
/// arguments per key (2 for MSET's key value pairs, else 1).
struct split_rule {
  merge_kind merge = merge_kind::none;
  std::size_t stride = 1;
};
[[nodiscard]] split_rule split_rule_for(std::string_view command_name) noexcept;

/// True for MULTI, EXEC, DISCARD, WATCH and UNWATCH: a request holding one
/// is a unit and never split.
[[nodiscard]] bool is_transaction_command(std::string_view command_name) noexcept;

class command_table {
 public:
  /// Builds the table from a COMMAND reply. Errors: error::unexpected_reply
  /// when the reply is not an array of command entries.
  [[nodiscard]] static result<command_table> from_command_reply(const value& reply);

  /// Indexes into `args` of the keys of that command (empty: no key, or a
  /// command this table does not know).
  [[nodiscard]] std::vector<std::size_t> keys(const command_args& args) const;

  [[nodiscard]] std::size_t size() const noexcept { return specs_.size(); }

 private:
  struct key_spec {
    int first = 0;  // 0: no keys
    int last = 0;   // negative: from the end (-1 = the last argument)
    int step = 0;
    bool movable = false;
    bool has_subcommands = false;
  };
  void add(const value& entry, bool subcommand);
  std::unordered_map<std::string, key_spec> specs_;  // lower-case names, "object|encoding"
};

}  // namespace rcache::cluster
