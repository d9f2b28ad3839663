// gemma3/json.hpp — a small, strict JSON reader (RFC 8259) and string quoting.
//
// Used for config.json, tokenizer.json, safetensors headers and the tools' JSON lines.
// parse() builds a DOM; it never recurses deeper than kMaxDepth, rejects anything that
// is not strict JSON (trailing commas, comments, NaN, leading zeros, control characters
// or invalid UTF-8 in strings, lone surrogates, trailing garbage) and reports the byte
// offset of the problem in a gemma3::Error.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gemma3/detail/utf8.hpp"
#include "gemma3/error.hpp"

namespace gemma3::json {

enum class Type : uint8_t { Null, Bool, Number, String, Array, Object };

class Value {
 public:
  using Array = std::vector<Value>;
  using Object = std::vector<std::pair<std::string, Value>>;  // insertion order kept

  Value() = default;
  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }
  // True when the number is integral and exactly representable as int64.
  bool is_int() const { return type_ == Type::Number && is_int_; }

  // Typed access; `what` names the value in the error message.
  bool as_bool(const std::string& what = "value") const {
    check(Type::Bool, what);
    return bool_;
  }
  double as_double(const std::string& what = "value") const {
    check(Type::Number, what);
    return num_;
  }
  int64_t as_int(const std::string& what = "value") const {
    if (!is_int())
      throw Error(what + ": expected an integer, got " +
                  (is_number() ? "a non-integral or too large number" : type_name()));
    return int_;
  }
  const std::string& as_string(const std::string& what = "value") const {
    check(Type::String, what);
    return str_;
  }
  const Array& as_array(const std::string& what = "value") const {
    check(Type::Array, what);
    return arr_;
  }
  const Object& as_object(const std::string& what = "value") const {
    check(Type::Object, what);
    return obj_;
  }

  // Object member lookup (linear; iterate as_object() for big objects). nullptr when
  // absent or when this is not an object. For duplicate keys the first one wins.
  const Value* find(std::string_view key) const {
    if (type_ != Type::Object) return nullptr;
    for (const auto& kv : obj_)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
  const char* type_name() const {
    switch (type_) {
      case Type::Null: return "null";
      case Type::Bool: return "a boolean";
      case Type::Number: return "a number";
      case Type::String: return "a string";
      case Type::Array: return "an array";
      case Type::Object: return "an object";
    }
    return "?";
  }

 private:
  friend class Parser;
  void check(Type t, const std::string& what) const {
    if (type_ != t) {
      Value want;
      want.type_ = t;
      throw Error(what + ": expected " + want.type_name() + ", got " + type_name());
    }
  }

  Type type_ = Type::Null;
  bool bool_ = false;
  bool is_int_ = false;
  double num_ = 0.0;
  int64_t int_ = 0;
  std::string str_;
  Array arr_;
  Object obj_;
};

// Required members of an object; `what` names the object (e.g. "config.json").
inline const Value& get(const Value& obj, std::string_view key, const std::string& what) {
  if (!obj.is_object()) throw Error(what + ": expected an object, got " + obj.type_name());
  const Value* v = obj.find(key);
  if (v == nullptr) throw Error(what + ": missing field \"" + std::string(key) + "\"");
  return *v;
}
inline int64_t get_int(const Value& obj, std::string_view key, const std::string& what) {
  return get(obj, key, what).as_int(what + "." + std::string(key));
}
inline double get_double(const Value& obj, std::string_view key, const std::string& what) {
  return get(obj, key, what).as_double(what + "." + std::string(key));
}
inline const std::string& get_string(const Value& obj, std::string_view key,
                                     const std::string& what) {
  return get(obj, key, what).as_string(what + "." + std::string(key));
}
inline bool get_bool(const Value& obj, std::string_view key, const std::string& what) {
  return get(obj, key, what).as_bool(what + "." + std::string(key));
}

class Parser {
 public:
  static constexpr int kMaxDepth = 256;

  Parser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

  Value parse_document() {
    Value v;
    skip_ws();
    parse_value(v, 0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected data after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(what_ + ": invalid JSON at byte " + std::to_string(pos_) + ": " + msg);
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool consume_literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }

  void parse_value(Value& out, int depth) {
    if (depth >= kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
    if (pos_ >= s_.size()) fail("unexpected end of input");
    const char c = s_[pos_];
    if (c == '{') {
      out.type_ = Type::Object;
      ++pos_;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return;
      }
      for (;;) {
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key");
        out.obj_.emplace_back();
        parse_string(out.obj_.back().first);
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != ':') fail("expected ':'");
        ++pos_;
        skip_ws();
        parse_value(out.obj_.back().second, depth + 1);
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          return;
        }
        fail("expected ',' or '}'");
      }
    } else if (c == '[') {
      out.type_ = Type::Array;
      ++pos_;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return;
      }
      for (;;) {
        skip_ws();
        out.arr_.emplace_back();
        parse_value(out.arr_.back(), depth + 1);
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          return;
        }
        fail("expected ',' or ']'");
      }
    } else if (c == '"') {
      out.type_ = Type::String;
      parse_string(out.str_);
    } else if (consume_literal("true")) {
      out.type_ = Type::Bool;
      out.bool_ = true;
    } else if (consume_literal("false")) {
      out.type_ = Type::Bool;
    } else if (consume_literal("null")) {
      out.type_ = Type::Null;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      parse_number(out);
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  void parse_number(Value& out) {
    const size_t start = pos_;
    bool integral = true;
    if (s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size() || !is_digit(s_[pos_])) fail("expected a digit");
    if (s_[pos_] == '0') {
      ++pos_;
      if (pos_ < s_.size() && is_digit(s_[pos_])) fail("leading zeros are not allowed");
    } else {
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      ++pos_;
      if (pos_ >= s_.size() || !is_digit(s_[pos_])) fail("expected a digit after '.'");
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ >= s_.size() || !is_digit(s_[pos_])) fail("expected a digit in the exponent");
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    }
    const std::string_view tok = s_.substr(start, pos_ - start);
    if (tok.size() > 400) fail("number too long");
    const std::string copy(tok);  // strtod needs a terminated string
    out.type_ = Type::Number;
    out.num_ = std::strtod(copy.c_str(), nullptr);
    if (!std::isfinite(out.num_)) fail("number out of range");
    if (integral) {
      // Exact int64 when it fits (digits accumulated without overflow).
      const bool neg = tok[0] == '-';
      uint64_t mag = 0;
      bool fits = true;
      for (size_t i = neg ? 1 : 0; i < tok.size(); ++i) {
        const uint64_t d = static_cast<uint64_t>(tok[i] - '0');
        if (mag > (UINT64_C(9223372036854775808) - d) / 10) {
          fits = false;
          break;
        }
        mag = mag * 10 + d;
      }
      if (fits && (neg || mag <= UINT64_C(9223372036854775807))) {
        out.is_int_ = true;
        out.int_ = neg ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
      }
    }
  }

  int hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else fail("invalid hex digit in \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  void parse_string(std::string& out) {
    ++pos_;  // opening quote
    for (;;) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return;
      }
      if (c < 0x20) fail("control character in string");
      if (c == '\\') {
        ++pos_;
        if (pos_ >= s_.size()) fail("unterminated escape");
        const char e = s_[pos_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = static_cast<uint32_t>(hex4());
            if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u')
                fail("lone high surrogate in \\u escape");
              pos_ += 2;
              const uint32_t lo = static_cast<uint32_t>(hex4());
              if (lo < 0xDC00 || lo > 0xDFFF)
                fail("high surrogate not followed by a low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            append_utf8(out, cp);
            break;
          }
          default: --pos_; fail(std::string("invalid escape '\\") + e + "'");
        }
        continue;
      }
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      const size_t n = detail::utf8_seq_len(s_, pos_);
      if (n == 0) fail("invalid UTF-8 in string");
      out.append(s_.data() + pos_, n);
      pos_ += n;
    }
  }

  std::string_view s_;
  const std::string& what_;
  size_t pos_ = 0;
};

// Parses one JSON document; `what` names it in error messages (a file name, "stdin line 3").
inline Value parse(std::string_view text, const std::string& what) {
  return Parser(text, what).parse_document();
}

// JSON string literal for `s` (with quotes). UTF-8 passes through; control characters,
// '"' and '\\' are escaped. Bytes that are not valid UTF-8 become U+FFFD so the output
// is always valid JSON.
inline std::string quote(std::string_view s) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      out += "\\\"";
      ++i;
      continue;
    }
    if (c == '\\') {
      out += "\\\\";
      ++i;
      continue;
    }
    if (c == '\n') {
      out += "\\n";
      ++i;
      continue;
    }
    if (c == '\t') {
      out += "\\t";
      ++i;
      continue;
    }
    if (c == '\r') {
      out += "\\r";
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t n = detail::utf8_seq_len(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(s.data() + i, n);
    i += n;
  }
  out += '"';
  return out;
}

}  // namespace gemma3::json
