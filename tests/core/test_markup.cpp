// xml_escape against Python's html.escape(s, quote=True), which writes the same five entities.
#include <gtest/gtest.h>

#include "core/markup.h"

TEST(Markup, EscapesAsPythonHtmlEscape) {
  // python3 -c "import html; print(html.escape('<script>alert(\"x\")</script> & \'y\' 北京'))"
  EXPECT_EQ(erank::xml_escape("<script>alert(\"x\")</script> & 'y' 北京"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;y&#x27; 北京");
  EXPECT_EQ(erank::xml_escape(""), "");
}
