// Tests for gemma3/json.hpp: the strict JSON reader and quote().
#include <doctest/doctest.h>

#include <string>

#include "gemma3/json.hpp"

namespace json = gemma3::json;

TEST_CASE("json: scalars, arrays, objects keep order") {
  const auto v = json::parse(
      R"( {"b": 1, "a": [true, false, null, -0.5e1, "x"], "n": -9223372036854775808} )", "t");
  REQUIRE(v.is_object());
  CHECK(v.as_object()[0].first == "b");
  CHECK(v.as_object()[1].first == "a");
  CHECK(json::get_int(v, "b", "t") == 1);
  const auto& a = json::get(v, "a", "t").as_array();
  REQUIRE(a.size() == 5);
  CHECK(a[0].as_bool());
  CHECK(!a[1].as_bool());
  CHECK(a[2].is_null());
  CHECK(a[3].as_double() == -5.0);
  CHECK(!a[3].is_int());
  CHECK(a[4].as_string() == "x");
  CHECK(json::get_int(v, "n", "t") == INT64_MIN);
  CHECK(v.find("missing") == nullptr);
}

TEST_CASE("json: numbers") {
  CHECK(json::parse("9007199254740993", "t").as_int() ==
        9007199254740993LL);  // not exact as double
  CHECK(json::parse("1e2", "t").as_double() == 100.0);
  CHECK(!json::parse("1e2", "t").is_int());
  CHECK(json::parse("0.1", "t").as_double() == 0.1);
  CHECK(json::parse("-0", "t").as_int() == 0);
  CHECK(!json::parse("9223372036854775808", "t").is_int());  // too big for int64, still a double
  CHECK(json::parse("9223372036854775808", "t").as_double() == 9223372036854775808.0);
  CHECK_THROWS_AS(json::parse("1.5", "t").as_int(), gemma3::Error);
}

TEST_CASE("json: string escapes and UTF-8") {
  CHECK(json::parse(R"("a\"\\\/\b\f\n\r\t")", "t").as_string() == "a\"\\/\b\f\n\r\t");
  CHECK(json::parse(R"("\u00e9\u2581")", "t").as_string() == "\xC3\xA9\xE2\x96\x81");
  CHECK(json::parse(R"("\ud83d\ude0a")", "t").as_string() == "\xF0\x9F\x98\x8A");  // U+1F60A
  CHECK(json::parse("\"\xF0\x9F\x98\x8A\"", "t").as_string() == "\xF0\x9F\x98\x8A");
  CHECK(json::parse(R"("\u0000")", "t").as_string() == std::string(1, '\0'));
}

TEST_CASE("json: rejects malformed input with the byte offset") {
  const char* bad[] = {
      "",
      "{",
      "[1,]",
      "{\"a\":1,}",
      "01",
      "1.",
      "-",
      ".5",
      "+1",
      "1e",
      "nul",
      "tru",
      "NaN",
      "Infinity",
      "[1] x",
      "{'a':1}",
      "{\"a\" 1}",
      "\"abc",
      "\"\\x\"",
      "\"\\u12\"",
      "\"\\ud800\"",
      "\"\\udc00\"",
      "\"\\ud800\\u0041\"",
      "\"a\nb\"",
      "\"\xC0\xAF\"",
      "\"\xED\xA0\x80\"",
      "\"\xF4\x90\x80\x80\"",
      "\"\xFF\"",
      "1e999",
      "/* c */ 1",
      "[1 2]",
  };
  for (const char* b : bad) {
    CAPTURE(b);
    CHECK_THROWS_AS(json::parse(b, "t"), gemma3::Error);
  }
  try {
    json::parse("[1, 2, x]", "cfg.json");
    FAIL("no throw");
  } catch (const gemma3::Error& e) {
    CHECK(std::string(e.what()) == "cfg.json: invalid JSON at byte 7: unexpected character 'x'");
  }
}

TEST_CASE("json: depth limit, no stack overflow") {
  std::string ok(200, '[');
  ok += std::string(200, ']');
  CHECK_NOTHROW(json::parse(ok, "t"));
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  CHECK_THROWS_AS(json::parse(deep, "t"), gemma3::Error);
}

TEST_CASE("json: typed accessors name the field") {
  const auto v = json::parse(R"({"x": "s"})", "config.json");
  try {
    json::get_int(v, "x", "config.json");
    FAIL("no throw");
  } catch (const gemma3::Error& e) {
    CHECK(std::string(e.what()) == "config.json.x: expected an integer, got a string");
  }
  CHECK_THROWS_AS(json::get_int(v, "y", "config.json"), gemma3::Error);
  CHECK_THROWS_AS(json::get_string(json::parse("[]", "t"), "y", "t"), gemma3::Error);
}

TEST_CASE("json: quote round-trips and escapes") {
  const std::string s =
      std::string("a\"b\\c\n\t\x01\x7F\xC3\xA9\xF0\x9F\x98\x8A", 15) + std::string(1, '\0');
  const std::string q = json::quote(s);
  CHECK(q == "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\xC3\xA9\xF0\x9F\x98\x8A\\u0000\"");
  CHECK(json::parse(q, "t").as_string() == s);
  CHECK(json::quote("\xFF"
                    "a") ==
        "\"\xEF\xBF\xBD"
        "a\"");  // invalid byte -> U+FFFD
}
