// CsvReader: RFC 4180 records from a stream (quoted fields, doubled quotes, newlines inside quotes).
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "common/status.h"

namespace tessera {

// Not thread-safe. Does not own the stream, which must outlive the reader.
class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}

  // Reads the next record into `fields`. Returns false at end of input. A malformed record
  // (an unterminated quote, or text after a closing quote) sets `error` and returns true, so the
  // caller can reject that one record and continue with the next line.
  bool Next(std::vector<std::string>* fields, Status* error);

  // 1-based physical line on which the last record returned by Next started.
  size_t record_line() const { return record_line_; }

 private:
  std::istream& in_;
  size_t next_line_ = 1;
  size_t record_line_ = 0;
};

}  // namespace tessera
