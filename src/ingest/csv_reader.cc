#include "ingest/csv_reader.h"

namespace tessera {

bool CsvReader::Next(std::vector<std::string>* fields, Status* error) {
  fields->clear();
  *error = Status::Ok();
  std::string line;
  if (!std::getline(in_, line)) return false;
  record_line_ = next_line_++;

  std::string field;
  bool in_quotes = false;
  bool after_closing_quote = false;
  while (true) {
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (in_quotes) {
        if (c == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            ++i;
          } else {
            in_quotes = false;
            after_closing_quote = true;
          }
        } else {
          field += c;
        }
      } else if (c == ',') {
        fields->push_back(std::move(field));
        field.clear();
        after_closing_quote = false;
      } else if (c == '"' && field.empty() && !after_closing_quote) {
        in_quotes = true;
      } else if (c == '\r' && i + 1 == line.size()) {
        // CRLF line ending: drop the CR.
      } else if (after_closing_quote) {
        *error = Status::InvalidArgument("text after a closing quote in column " +
                                         std::to_string(fields->size() + 1) +
                                         ": quote the whole field and double any inner quotes");
        return true;
      } else {
        field += c;
      }
    }
    if (!in_quotes) break;
    // A quoted field continues on the next physical line.
    if (!std::getline(in_, line)) {
      *error = Status::InvalidArgument("unterminated quoted field starting on line " +
                                       std::to_string(record_line_) + ": close the quote");
      return true;
    }
    ++next_line_;
    field += '\n';
  }
  fields->push_back(std::move(field));
  return true;
}

}  // namespace tessera
