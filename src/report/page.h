// `erank report`: results files of every kind -> one self-contained HTML page (inline CSS and
// SVG; no script, font or image from anywhere else).
#pragma once
#include <string>
#include <vector>

#include "report/inputs.h"

namespace erank::report {

struct PageInfo {
  std::string erank_version;  // of the erank writing the page
  std::string command_line;   // shown in the header
};

// Sections in the order of the files: erank diff/rank/loss results on the same texts (the same
// dataset sha256) form one model comparison, placed where its first file is; results on other
// texts form their own. Every other file is one section.
std::string render_page(const std::vector<Input>& inputs, const PageInfo& info);

// Reads every file first (any error: nothing is written), then writes `out` atomically.
void write_report(const std::vector<std::string>& paths, const std::string& out,
                  const PageInfo& info);

}  // namespace erank::report
