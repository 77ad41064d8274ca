#include "cli/option_values.h"

#include <algorithm>
#include <string>

namespace tessera {
namespace {

bool NamesSecret(const std::string& name) {
  for (const char* word : {"key", "secret", "token", "password"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

void AppendOptionValues(const CLI::App& app, std::vector<LogField>& fields) {
  for (const CLI::Option* option : app.get_options()) {
    std::string name = option->get_single_name();
    if (name == "help" || name == "version" || name == "config" || name.empty()) continue;
    std::string value;
    if (option->count() > 0) {
      for (const std::string& result : option->results()) value += (value.empty() ? "" : ",") + result;
    } else {
      value = option->get_default_str();
    }
    if (NamesSecret(name)) value = "<redacted>";
    std::replace(name.begin(), name.end(), '-', '_');
    fields.emplace_back(name, value);
  }
  for (const CLI::App* subcommand : app.get_subcommands()) AppendOptionValues(*subcommand, fields);
}

}  // namespace

std::vector<LogField> OptionValues(const CLI::App& app) {
  std::vector<LogField> fields;
  AppendOptionValues(app, fields);
  return fields;
}

}  // namespace tessera
