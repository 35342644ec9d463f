#include "store/util/terminal.h"

#include <gtest/gtest.h>

namespace mailkeep {
namespace {

const std::string R = "\xEF\xBF\xBD";  // U+FFFD

TEST(TerminalText, ControlsCannotReachTheTerminal) {
  // ESC sequences, a C1 CSI (U+009B), BEL, DEL, NUL, backspace.
  EXPECT_EQ(TerminalText("a\x1b[2Jb"), "a" + R + "[2Jb");
  EXPECT_EQ(TerminalText("a\xc2\x9b" "2Jb"), "a" + R + "2Jb");
  EXPECT_EQ(TerminalText("\x1b]0;title\x07"), R + "]0;title" + R);
  EXPECT_EQ(TerminalText(std::string("x\x7f\0\by", 5)), "x" + R + R + R + "y");
}

TEST(TerminalText, OneLineCannotForgeAnother) {
  EXPECT_EQ(TerminalText("folder\r\nmailkeep: forged"), "folder" + R + R + "mailkeep: forged");
  EXPECT_EQ(TerminalText("a\tb"), "a b");
}

TEST(TerminalText, MultilineKeepsLinesAndTabs) {
  EXPECT_EQ(TerminalText("one\r\ntwo\tx\nthree\rz", TextKind::kMultiline), "one\ntwo\tx\nthree" + R + "z");
}

TEST(TerminalText, Utf8IsKeptMalformedBytesAreReplaced) {
  EXPECT_EQ(TerminalText("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7");
  EXPECT_EQ(TerminalText("\x9b" "2J"), R + "2J");             // a raw one-byte CSI
  EXPECT_EQ(TerminalText("\xc0\xaf"), R + R);                 // overlong '/'
  EXPECT_EQ(TerminalText("\xed\xa0\x80"), R + R + R);         // a surrogate
  EXPECT_EQ(TerminalText("ab\xe2\x82"), "ab" + R + R);        // cut short
  EXPECT_EQ(TerminalText("\xc2\xa0"), "\xc2\xa0");            // U+00A0 is not a control
  EXPECT_EQ(TerminalText(""), "");
}

}  // namespace
}  // namespace mailkeep
