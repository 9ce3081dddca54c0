// The arena's web pages, served as they are: static HTML with no user text in it (everything
// dynamic is fetched as JSON and written with textContent by app.js), so nothing a model or a
// person types is ever parsed as markup.
#pragma once

namespace erank::arena {

extern const char* const kIndexHtml;
extern const char* const kLeaderboardHtml;
extern const char* const kAppJs;
extern const char* const kStyleCss;

}  // namespace erank::arena
