// Fuzzes the product parsers behind the catalogue endpoints: each input is read as a JSONL
// catalogue (ingest --jsonl and POST /api/products/import) and as one JSON body (PUT
// /api/products/{id}). Beyond crashes and sanitizer reports, it checks that every accepted
// product passes ValidateProduct and survives ProductToJson, dump and parse unchanged, and that
// every rejection message can be sent as JSON.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "ingest/jsonl_reader.h"
#include "ingest/product.h"

namespace tessera::fuzz {
namespace {

using nlohmann::json;

void CheckAcceptedProduct(const Product& product) {
  const Status valid = ValidateProduct(product);
  TESSERA_FUZZ_CHECK(valid.ok(), valid.ToString());

  // The stored form is the dumped JSON; reading it back must give the same product.
  const json written = ProductToJson(product);
  const json read_back = json::parse(written.dump());
  const Result<Product> reparsed = ProductFromJson(read_back, "");
  TESSERA_FUZZ_CHECK(reparsed.ok(), reparsed.status().ToString() + " for " + written.dump());
  TESSERA_FUZZ_CHECK(ProductToJson(*reparsed) == written,
                     written.dump() + " came back as " + ProductToJson(*reparsed).dump());
}

void FuzzJsonlCatalogue(std::string_view input) {
  std::istringstream in{std::string(input)};
  size_t records = 0;
  const Result<IngestReport> report =
      ReadJsonlCatalog(in, "/catalogue", [&](CatalogRecord&& record) {
        ++records;
        TESSERA_FUZZ_CHECK(record.line > 0, "a record has no line number");
        if (record.op == CatalogRecord::Op::kUpsert) {
          CheckAcceptedProduct(record.product);
        } else {
          TESSERA_FUZZ_CHECK(!record.product.id.empty(), "a delete has no id");
        }
        return Status::Ok();
      });
  // The sink never fails, so neither may the reader.
  TESSERA_FUZZ_CHECK(report.ok(), report.status().ToString());
  TESSERA_FUZZ_CHECK(report->accepted + report->deleted == records, "the report miscounts the records");
  TESSERA_FUZZ_CHECK(report->rejections.size() == std::min(report->rejected, IngestReport::kMaxKeptRejections),
                     "a rejection was not kept");
  for (const RejectedRecord& rejection : report->rejections) {
    CheckErrorMessage(Status::InvalidArgument(rejection.reason));
    TESSERA_FUZZ_CHECK(IsValidUtf8(rejection.field), rejection.field);
  }
}

void FuzzProductBody(std::string_view input) {
  const json body = json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return;
  const Result<Product> product = ProductFromJson(body, "");
  if (product.ok()) {
    CheckAcceptedProduct(*product);
  } else {
    CheckErrorMessage(product.status());
  }
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  tessera::fuzz::FuzzJsonlCatalogue(input);
  tessera::fuzz::FuzzProductBody(input);
  return 0;
}
