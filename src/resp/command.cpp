// The RESP serializer: commands as arrays of bulk strings, and any value as
// RESP3.
//
// Numbers go through std::to_chars into a stack buffer (no locale, no
// allocation), and each header is appended with one call; the payload of a
// bulk string is copied once.
//
// Threading: free functions, no state.
#include <rcache/detail/resp_command.hpp>

#include <cstddef>
#include <cstdint>

namespace rcache::resp {
namespace {

// Appends "<type><n>\r\n".
template <class Integer>
void append_header(std::string& out, char type, Integer n) {
  char buf[1 + 20 + 2];  // type, the digits of any 64-bit integer with its sign, CRLF
  buf[0] = type;
  char* p = std::to_chars(buf + 1, buf + sizeof buf - 2, n).ptr;
  *p++ = '\r';
  *p++ = '\n';
  out.append(buf, p);
}

// Appends "<type><text>\r\n".
void append_line(std::string& out, char type, std::string_view text) {
  out += type;
  out += text;
  out += "\r\n";
}

// The shortest text that reads back as `d` ("0.1", "1e+21", "inf").
std::string_view format_double(char (&buf)[32], double d) {
  const char* end = std::to_chars(buf, buf + sizeof buf, d).ptr;
  return {buf, static_cast<std::size_t>(end - buf)};
}

}  // namespace

void append_array_header(std::string& out, std::size_t n) {
  append_header(out, '*', static_cast<std::uint64_t>(n));
}

void append_bulk(std::string& out, std::string_view bytes) {
  append_header(out, '$', static_cast<std::uint64_t>(bytes.size()));
  out += bytes;
  out += "\r\n";
}

void append_bulk(std::string& out, std::int64_t n) {
  char buf[20];
  const char* end = std::to_chars(buf, buf + sizeof buf, n).ptr;
  append_bulk(out, std::string_view(buf, static_cast<std::size_t>(end - buf)));
}

void append_bulk(std::string& out, std::uint64_t n) {
  char buf[20];
  const char* end = std::to_chars(buf, buf + sizeof buf, n).ptr;
  append_bulk(out, std::string_view(buf, static_cast<std::size_t>(end - buf)));
}

void append_bulk(std::string& out, double d) {
  char buf[32];
  append_bulk(out, format_double(buf, d));
}

void append_value(std::string& out, const value& v) {
  if (!v.attributes.empty()) {
    append_header(out, '|', static_cast<std::uint64_t>(v.attributes.size() / 2));
    for (const value& a : v.attributes) append_value(out, a);
  }
  char aggregate = 0;
  std::size_t count = v.elements.size();
  switch (v.type) {
    case resp_type::simple_string:
      append_line(out, '+', v.str);
      return;
    case resp_type::simple_error:
      append_line(out, '-', v.str);
      return;
    case resp_type::integer:
      append_header(out, ':', v.integer);
      return;
    case resp_type::bulk_string:
      append_bulk(out, v.str);
      return;
    case resp_type::null:
      out += "_\r\n";
      return;
    case resp_type::boolean:
      out += v.integer != 0 ? "#t\r\n" : "#f\r\n";
      return;
    case resp_type::double_number: {
      char buf[32];
      append_line(out, ',', v.str.empty() ? format_double(buf, v.number) : v.str);
      return;
    }
    case resp_type::big_number:
      append_line(out, '(', v.str);
      return;
    case resp_type::bulk_error:
      append_header(out, '!', static_cast<std::uint64_t>(v.str.size()));
      out += v.str;
      out += "\r\n";
      return;
    case resp_type::verbatim_string:
      append_header(out, '=', static_cast<std::uint64_t>(v.str.size() + 4));
      out.append(v.format.data(), v.format.size());
      out += ':';
      out += v.str;
      out += "\r\n";
      return;
    case resp_type::array:
      aggregate = '*';
      break;
    case resp_type::set:
      aggregate = '~';
      break;
    case resp_type::push:
      aggregate = '>';
      break;
    case resp_type::map:
      aggregate = '%';
      count /= 2;
      break;
    case resp_type::attribute:
      aggregate = '|';
      count /= 2;
      break;
  }
  append_header(out, aggregate, static_cast<std::uint64_t>(count));
  for (const value& e : v.elements) append_value(out, e);
}

}  // namespace rcache::resp
