// Unit tests of the sans-I/O command helpers used by the cluster client:
// splitting a serialized request into its commands (binary safety, framing
// errors, every truncation), serializing a command back, the split / merge
// rules of multi-key commands, transaction commands, and the key positions
// of a command_table built from a synthetic COMMAND reply (fixed ranges,
// subcommands, and the numkeys / STREAMS rules of movable-key commands).
#include "cluster/command_keys.hpp"

#include <gtest/gtest.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rcache::cluster {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

using indexes = std::vector<std::size_t>;
using commands = std::vector<command_args>;

// ---- helpers ----------------------------------------------------------------

// The payload with CR, LF and other control bytes made visible, for messages.
std::string escaped(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u >= 0x7f) {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

::testing::AssertionResult is_framing_error(std::string_view payload) {
  auto r = split_payload(payload);
  if (r) {
    return ::testing::AssertionFailure()
           << "\"" << escaped(payload) << "\" split into " << r->size() << " command(s)";
  }
  if (r.error() != make_error_code(error::resp_invalid_framing)) {
    return ::testing::AssertionFailure()
           << "\"" << escaped(payload) << "\" failed with " << r.error().message();
  }
  return ::testing::AssertionSuccess();
}

value str(std::string s) {
  return value::make_string(std::move(s));
}
value simple(std::string s) {
  return value::make_string(std::move(s), resp_type::simple_string);
}
value num(std::int64_t i) {
  return value::make_integer(i);
}
value arr(std::vector<value> v, resp_type t = resp_type::array) {
  return value::make_array(std::move(v), t);
}
value set_of(const std::vector<std::string>& items) {
  std::vector<value> v;
  for (const auto& s : items) v.push_back(simple(s));
  return arr(std::move(v), resp_type::set);
}

// One COMMAND (or COMMAND INFO) entry, as Redis 7 sends it:
// [name, arity, flags, first key, last key, step, ACL categories, tips, key specs, subcommands].
value command_entry(std::string name, std::int64_t arity, const std::vector<std::string>& flags,
                    std::int64_t first, std::int64_t last, std::int64_t step,
                    std::vector<value> subcommands = {}) {
  return arr({str(std::move(name)), num(arity), set_of(flags), num(first), num(last), num(step),
              set_of({"@keyspace"}), arr({}), arr({}), arr(std::move(subcommands))});
}

value synthetic_command_reply() {
  return arr({
      command_entry("get", 2, {"readonly", "fast"}, 1, 1, 1),
      command_entry("mset", -3, {"write", "denyoom"}, 1, -1, 2),
      command_entry("mget", -2, {"readonly", "fast"}, 1, -1, 1),
      command_entry("ping", -1, {"fast", "stale"}, 0, 0, 0),
      command_entry("eval", -3, {"noscript", "stale", "may_replicate", "movablekeys"}, 0, 0, 0),
      command_entry("object", -2, {}, 0, 0, 0,
                    {command_entry("object|encoding", 3, {"readonly"}, 2, 2, 1)}),
      command_entry("xread", -4, {"readonly", "blocking", "movablekeys"}, 0, 0, 0),
      command_entry("zunionstore", -4, {"write", "denyoom", "movablekeys"}, 1, 1, 1),
  });
}

class CommandTable : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = command_table::from_command_reply(synthetic_command_reply());
    ASSERT_TRUE(t) << t.error().message();
    table_ = std::move(*t);
  }

  indexes keys(const command_args& args) const { return table_.keys(args); }

  command_table table_;
};

// ---- split_payload / append_command -----------------------------------------

TEST(SplitPayload, SplitsTwoCommandsIntoTheirArguments) {
  const std::string payload =
      "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n";
  auto cmds = split_payload(payload);
  ASSERT_TRUE(cmds) << cmds.error().message();
  EXPECT_EQ(*cmds, (commands{{"GET", "k"}, {"SET", "a", "b"}}));
}

TEST(SplitPayload, IsBinarySafeAndAcceptsEmptyBulks) {
  const std::string payload =
      "*5\r\n$3\r\nSET\r\n$4\r\nk\r\nk\r\n$5\r\na\0\r\nb\r\n"
      "$2\r\n\r\n\r\n$13\r\n*1\r\n$3\r\nGET\r\n\r\n"s;
  auto cmds = split_payload(payload);
  ASSERT_TRUE(cmds) << cmds.error().message();
  ASSERT_EQ(cmds->size(), 1u);
  EXPECT_EQ((*cmds)[0],
            (command_args{"SET", "k\r\nk"sv, "a\0\r\nb"sv, "\r\n"sv, "*1\r\n$3\r\nGET\r\n"sv}));
  EXPECT_EQ((*cmds)[0][2].size(), 5u) << "the NUL byte is kept";

  auto empty = split_payload("*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(*empty, (commands{{"GET", ""}}));

  auto nothing = split_payload("");
  ASSERT_TRUE(nothing) << nothing.error().message();
  EXPECT_TRUE(nothing->empty()) << "an empty payload holds no command";
}

TEST(SplitPayload, RefusesMalformedFraming) {
  EXPECT_TRUE(is_framing_error("*2\r\n$3\r\nGET\r\n$5\r\nab")) << "a truncated bulk";
  EXPECT_TRUE(is_framing_error("*1\r\n$4\r\nGET\r\n")) << "a bulk length too long";
  EXPECT_TRUE(is_framing_error("*1\r\n$2\r\nGET\r\n")) << "a bulk length too short";
  EXPECT_TRUE(is_framing_error("*1\r\n$3\r\nGETxx")) << "no CRLF after the bulk";
  EXPECT_TRUE(is_framing_error("*1\r\n$3\r\nGET")) << "the payload ends before the CRLF";
  EXPECT_TRUE(is_framing_error("*1\n$3\r\nGET\r\n")) << "a bare LF after the array header";
  EXPECT_TRUE(is_framing_error("*1\r\n$3\nGET\r\n")) << "a bare LF after the bulk header";
  EXPECT_TRUE(is_framing_error("*1\r\n$3")) << "a bulk header without CRLF";
  EXPECT_TRUE(is_framing_error("+OK\r\n")) << "a simple string instead of an array";
  EXPECT_TRUE(is_framing_error("*1\r\n+GET\r\n")) << "a simple string inside the array";
  EXPECT_TRUE(is_framing_error("*1\r\n:1\r\n")) << "an integer inside the array";
  EXPECT_TRUE(is_framing_error("*0\r\n")) << "an empty command";
  EXPECT_TRUE(is_framing_error("*-1\r\n")) << "a null array";
  EXPECT_TRUE(is_framing_error("*1\r\n$-1\r\n")) << "a null bulk";
  EXPECT_TRUE(is_framing_error("*x\r\n$3\r\nGET\r\n")) << "a count that is not a number";
  EXPECT_TRUE(is_framing_error("*\r\n$3\r\nGET\r\n")) << "no count";
  EXPECT_TRUE(is_framing_error("*2\r\n$3\r\nGET\r\n")) << "fewer bulks than counted";
  EXPECT_TRUE(is_framing_error("*1\r\n$4\r\nPING\r\nX")) << "garbage after a command";
  EXPECT_TRUE(is_framing_error("hello world")) << "garbage";
  EXPECT_TRUE(is_framing_error("\r\n")) << "garbage";
  EXPECT_TRUE(is_framing_error("PING\r\n")) << "an inline command";
}

// Every prefix of `payload` fails to split, except those ending on a command
// boundary (listed in `boundaries`, with the number of commands before each).
void check_every_truncation(std::string_view payload,
                            const std::vector<std::pair<std::size_t, std::size_t>>& boundaries) {
  for (std::size_t len = 0; len <= payload.size(); ++len) {
    SCOPED_TRACE("prefix of " + std::to_string(len) + " bytes: \"" +
                 escaped(payload.substr(0, len)) + "\"");
    auto r = split_payload(payload.substr(0, len));
    std::size_t expected = 0;
    bool at_boundary = false;
    for (auto [offset, count] : boundaries) {
      if (offset == len) {
        at_boundary = true;
        expected = count;
      }
    }
    if (at_boundary) {
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->size(), expected);
    } else {
      EXPECT_TRUE(is_framing_error(payload.substr(0, len)));
    }
  }
}

TEST(SplitPayload, EveryTruncationFailsUnlessItEndsOnACommand) {
  const std::string one = "*3\r\n$3\r\nSET\r\n$4\r\nk\r\nk\r\n$5\r\na\0\r\nb\r\n"s;
  check_every_truncation(one, {{0, 0}, {one.size(), 1}});

  const std::string first = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  const std::string second = "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$0\r\n\r\n";
  const std::string two = first + second;
  check_every_truncation(two, {{0, 0}, {first.size(), 1}, {two.size(), 2}});
}

TEST(AppendCommand, WritesRespArraysOfBulkStrings) {
  std::string out;
  append_command(out, {"GET", "k"});
  EXPECT_EQ(out, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  append_command(out, {"SET", "", "a\0b"sv});
  EXPECT_EQ(out, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$0\r\n\r\n$3\r\na\0b\r\n"s)
      << "appended after what was there";
}

TEST(AppendCommand, RoundTripsThroughSplitPayload) {
  const std::string big(1000, 'x');
  const std::string binary = "a\0b\r\n*1\r\n$3\r\n\xff"s;
  const std::vector<command_args> sent = {
      {"SET", "key with spaces", big},
      {"PING"},
      {"MSET", "", binary, "{tag}k", "\r\n"},
  };
  std::string payload;
  for (const auto& c : sent) append_command(payload, c);

  auto back = split_payload(payload);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, sent);
  EXPECT_EQ((*back)[0][2].size(), 1000u);
  EXPECT_EQ((*back)[2][2].size(), binary.size());
}

// ---- split rules and transactions -------------------------------------------

TEST(SplitRule, MultiKeyCommandsSplitOthersDoNot) {
  auto mget = split_rule_for("MGET");
  EXPECT_EQ(mget.merge, merge_kind::concat);
  EXPECT_EQ(mget.stride, 1u);
  EXPECT_EQ(split_rule_for("mget").merge, merge_kind::concat);

  for (std::string_view name : {"del", "UNLINK", "Exists", "TOUCH"}) {
    SCOPED_TRACE(std::string(name));
    auto rule = split_rule_for(name);
    EXPECT_EQ(rule.merge, merge_kind::sum);
    EXPECT_EQ(rule.stride, 1u);
  }

  for (std::string_view name : {"MSET", "mset", "MsEt"}) {
    SCOPED_TRACE(std::string(name));
    auto rule = split_rule_for(name);
    EXPECT_EQ(rule.merge, merge_kind::all_ok);
    EXPECT_EQ(rule.stride, 2u) << "key value pairs";
  }

  for (std::string_view name : {"GET", "SET", "MSETNX", "MGETX", "DELX", ""}) {
    SCOPED_TRACE(std::string(name));
    auto rule = split_rule_for(name);
    EXPECT_EQ(rule.merge, merge_kind::none);
    EXPECT_EQ(rule.stride, 1u);
  }
}

TEST(Transaction, TransactionCommandsAreRecognisedInAnyCase) {
  for (std::string_view name : {"multi", "EXEC", "discard", "WATCH", "UNWATCH", "Multi"}) {
    EXPECT_TRUE(is_transaction_command(name)) << name;
  }
  for (std::string_view name : {"GET", "MULTIX", "EXE", "", "SET"}) {
    EXPECT_FALSE(is_transaction_command(name)) << name;
  }
}

// ---- command_table ----------------------------------------------------------

TEST_F(CommandTable, HoldsEveryCommandAndSubcommand) {
  EXPECT_EQ(table_.size(), 9u) << "eight commands and object|encoding";
}

TEST_F(CommandTable, FixedKeyRanges) {
  EXPECT_EQ(keys({"GET", "k"}), (indexes{1}));
  EXPECT_EQ(keys({"MSET", "a", "1", "b", "2"}), (indexes{1, 3}));
  EXPECT_EQ(keys({"mget", "a", "b", "c"}), (indexes{1, 2, 3}));
  EXPECT_EQ(keys({"PING"}), indexes{});
  EXPECT_EQ(keys({"PING", "hello"}), indexes{}) << "a message, not a key";
  EXPECT_EQ(keys({"GET"}), indexes{}) << "an argument missing";
  EXPECT_EQ(keys({}), indexes{});
}

TEST_F(CommandTable, UnknownCommandsHaveNoKeys) {
  EXPECT_EQ(keys({"HGET", "h", "f"}), indexes{});
  EXPECT_EQ(keys({"GETX", "k"}), indexes{});
}

TEST_F(CommandTable, NamesAreMatchedCaseInsensitively) {
  EXPECT_EQ(keys({"get", "k"}), (indexes{1}));
  EXPECT_EQ(keys({"gEt", "k"}), (indexes{1}));
  EXPECT_EQ(keys({"mset", "a", "1", "b", "2"}), (indexes{1, 3}));
  EXPECT_EQ(keys({"MGET", "a", "b"}), (indexes{1, 2}));
  EXPECT_EQ(keys({"eval", "s", "1", "k"}), (indexes{3}));
  EXPECT_EQ(keys({"object", "Encoding", "k"}), (indexes{2}));
  EXPECT_EQ(keys({"xread", "streams", "s", "0"}), (indexes{2}));
}

TEST_F(CommandTable, EvalKeysAreCountedByNumkeys) {
  EXPECT_EQ(keys({"EVAL", "script", "2", "k1", "k2", "arg"}), (indexes{3, 4}));
  EXPECT_EQ(keys({"EVAL", "script", "2", "k1", "k2"}), (indexes{3, 4})) << "no other argument";
  EXPECT_EQ(keys({"EVAL", "script", "0"}), indexes{});
  EXPECT_EQ(keys({"EVAL", "script", "0", "arg"}), indexes{}) << "arguments are not keys";
  EXPECT_EQ(keys({"EVAL", "script", "3", "k1", "k2"}), indexes{}) << "numkeys too large";
  EXPECT_EQ(keys({"EVAL", "script", "two", "k1", "k2"}), indexes{}) << "numkeys not a number";
  EXPECT_EQ(keys({"EVAL", "script", "1x", "k1"}), indexes{}) << "numkeys not a number";
  EXPECT_EQ(keys({"EVAL", "script", "-1", "k1"}), indexes{}) << "numkeys negative";
  EXPECT_EQ(keys({"EVAL", "script"}), indexes{}) << "no numkeys";
}

TEST_F(CommandTable, SubcommandsUseTheirOwnKeyRange) {
  EXPECT_EQ(keys({"OBJECT", "ENCODING", "k"}), (indexes{2}));
  EXPECT_EQ(keys({"OBJECT", "ENCODING"}), indexes{}) << "the key missing";
  EXPECT_EQ(keys({"OBJECT", "FREQ", "k"}), indexes{}) << "a subcommand the table does not know";
  EXPECT_EQ(keys({"OBJECT"}), indexes{});
}

TEST_F(CommandTable, XreadKeysFollowStreams) {
  // XREAD COUNT 2 STREAMS s1 s2 0 0: s1 and s2 are arguments 4 and 5.
  const command_args args = {"XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"};
  ASSERT_EQ(args[4], "s1");
  ASSERT_EQ(args[5], "s2");
  EXPECT_EQ(keys(args), (indexes{4, 5}));
  EXPECT_EQ(keys({"XREAD", "STREAMS", "s", "$"}), (indexes{2}));
  EXPECT_EQ(keys({"XREAD", "COUNT", "2"}), indexes{}) << "no STREAMS";
}

TEST_F(CommandTable, ZunionstoreKeysAreTheDestinationAndTheNumkeysSources) {
  EXPECT_EQ(keys({"ZUNIONSTORE", "dest", "2", "a", "b", "WEIGHTS", "1", "2"}), (indexes{1, 3, 4}));
  EXPECT_EQ(keys({"zunionstore", "dest", "1", "a"}), (indexes{1, 3}));
}

TEST(CommandTableParse, RefusesRepliesThatAreNotArraysOfEntries) {
  auto expect_unexpected = [](const value& reply, const char* what) {
    auto t = command_table::from_command_reply(reply);
    EXPECT_FALSE(t) << what;
    EXPECT_EQ(t.error(), make_error_code(error::unexpected_reply)) << what;
  };
  expect_unexpected(str("OK"), "a bulk string");
  expect_unexpected(simple("OK"), "a simple string");
  expect_unexpected(num(1), "an integer");
  expect_unexpected(value{}, "a null");
  expect_unexpected(value::make_string("ERR unknown command", resp_type::simple_error),
                    "an error reply");
  expect_unexpected(arr({}), "an empty array");
  expect_unexpected(arr({}, resp_type::set), "an empty set");
  expect_unexpected(arr({num(1), str("get")}), "an array of scalars");
}

TEST(CommandTableParse, AcceptsASingleEntry) {
  auto t = command_table::from_command_reply(
      arr({command_entry("hget", 3, {"readonly", "fast"}, 1, 1, 1)}));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->size(), 1u);
  EXPECT_EQ(t->keys({"HGET", "h", "f"}), (indexes{1}));
  EXPECT_EQ(t->keys({"GET", "k"}), indexes{}) << "not in this table";
}

}  // namespace
}  // namespace rcache::cluster
