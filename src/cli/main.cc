// The `tessera` command: ingest, serve, search, eval, delete, train-encoders, features,
// train-ranker, train-click-model, keys.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/option_values.h"
#include "cli/stop_signals.h"
#include "cli/train_click_model.h"
#include "cli/train_encoders.h"
#include "cli/train_ranker.h"
#include "common/files.h"
#include "common/structured_log.h"
#include "engine/engine.h"
#include "eval/judgments.h"
#include "eval/metrics.h"
#include "eval/query_variants.h"
#include "rank/xgboost_ranker.h"
#include "serve/api_keys.h"
#include "serve/http_server.h"

namespace {

using tessera::Engine;
using tessera::Status;

int Fail(const Status& status) {
  spdlog::error("{}", status.ToString());
  return status.code() == tessera::StatusCode::kInvalidArgument ? 2 : 1;
}

std::unique_ptr<Engine> OpenEngine(const tessera::EngineOptions& options, const tessera::Clock* clock, int* exit_code) {
  tessera::Result<std::unique_ptr<Engine>> engine = Engine::Open(options, clock);
  if (!engine.ok()) {
    *exit_code = Fail(engine.status());
    return nullptr;
  }
  return std::move(engine).value();
}

void PrintReport(const tessera::IngestReport& report) {
  std::cout << "accepted " << report.accepted << ", deleted " << report.deleted << ", rejected " << report.rejected << "\n";
  for (const tessera::RejectedRecord& r : report.rejections) {
    std::cout << "  rejected line " << r.line << " (" << r.field << "): " << r.reason << "\n";
  }
  if (report.rejected > report.rejections.size()) {
    std::cout << "  ... and " << report.rejected - report.rejections.size() << " more rejections\n";
  }
  for (const std::string& warning : report.warnings) std::cout << "  warning: " << warning << "\n";
}

// Per-query relevance values of one group of queries (one kind, or all of them).
struct RelevanceValues {
  std::vector<double> ndcg_at_10, mrr_at_10, recall_at_100;

  void Add(const std::vector<std::string>& ranked, const tessera::JudgedQuery& query) {
    const std::vector<std::string> top10(ranked.begin(), ranked.begin() + std::min<size_t>(10, ranked.size()));
    ndcg_at_10.push_back(tessera::NdcgAtK(ranked, query, 10));
    mrr_at_10.push_back(tessera::ReciprocalRank(top10, query, query.max_grade));
    recall_at_100.push_back(tessera::RecallAtK(ranked, query, 100));
  }

  nlohmann::json ToJson() const {
    return {{"queries", ndcg_at_10.size()},
            {"ndcg_at_10", tessera::Summarize(ndcg_at_10).mean},
            {"mrr_at_10", tessera::Summarize(mrr_at_10).mean},
            {"recall_at_100", tessera::Summarize(recall_at_100).mean}};
  }
};

// Serves until SIGINT or SIGTERM. Then it stops accepting connections and waits up to
// `shutdown_timeout_seconds` (0: without limit) for the requests in flight. When they do not
// finish in time it logs so and ends the process with exit code 1: every acknowledged event is
// already synced, and profiles not yet written are rebuilt from the events at the next start.
Status RunServer(Engine& engine, const tessera::HttpServerOptions& server_options, double shutdown_timeout_seconds) {
  tessera::HttpServer server(&engine, server_options);
  std::mutex drained_mutex;
  std::condition_variable drained_wake;
  bool drained = false;
  tessera::StopSignalWatcher watcher([&](int signal) {
    tessera::LogEvent(spdlog::level::info, "server stopping",
                      {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}, {"in_flight", server.in_flight()},
                       {"shutdown_timeout_s", shutdown_timeout_seconds}});
    server.Stop();
    std::unique_lock lock(drained_mutex);
    const auto finished = [&] { return drained; };
    if (shutdown_timeout_seconds <= 0) return drained_wake.wait(lock, finished);
    if (drained_wake.wait_for(lock, std::chrono::duration<double>(shutdown_timeout_seconds), finished)) return;
    tessera::LogEvent(spdlog::level::err, "shutdown timed out, exiting with requests still in flight",
                      {{"in_flight", server.in_flight()}, {"shutdown_timeout_s", shutdown_timeout_seconds}});
    spdlog::default_logger()->flush();
    std::_Exit(1);
  });
  const Status served = server.Run();
  {
    std::lock_guard lock(drained_mutex);
    drained = true;
  }
  drained_wake.notify_all();
  return served;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tessera: multimodal product search with real-time personalization"};
  app.require_subcommand(1);
  app.set_version_flag("--version", TESSERA_VERSION);
  // Options of the whole command may follow the subcommand (tessera serve --config FILE).
  app.fallthrough();
  app.set_config("--config", "",
                 "TOML file of option values: global options at the top, subcommand options under a table named "
                 "after the subcommand, e.g. [serve]; options given on the command line override it "
                 "(config/tessera.example.toml)");
  std::string log_format = "text";
  app.add_option("--log-format", log_format, "Log lines on standard error: text (key=value) or json (one object a line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  tessera::EngineOptions options;
  app.add_option("--data-dir", options.data_dir, "Folder for the store and speech model (created if missing)")
      ->capture_default_str();
  app.add_option("--synonyms", options.synonyms_path, "Solr-format synonym file applied to queries (default: none)");
  std::vector<std::string> field_weights;
  app.add_option("--field-weight", field_weights,
                 "BM25F weight of a text field, as FIELD=WEIGHT (fields and defaults: title 0.6, brand 0.7, "
                 "category 1.5, attributes 0.8, description 0.2, photo_text 0.3); repeat for several");
  int64_t time_budget_ms = options.query.time_budget.count();
  app.add_option("--time-budget-ms", time_budget_ms,
                 "Milliseconds one text query may spend before it returns what it found (0: no limit)")
      ->capture_default_str();
  app.add_option("--photo-encoder", options.photo_encoder,
                 "Photo vectors: mobilenet-pooled+colour-shape (pretrained CNN and hand-made colour and "
                 "outline side by side), mobilenet-pooled (the CNN's 1280 pooled features), mobilenet "
                 "(its 128-unit layer) or colour-shape (no model needed)")
      ->check(CLI::IsMember({"mobilenet-pooled+colour-shape", "mobilenet-pooled", "mobilenet", "colour-shape"}))
      ->capture_default_str();
  app.add_option("--vector-index", options.vector_index,
                 "Photo nearest-neighbour index: hnsw (approximate, saved and reloaded) or exact (brute force)")
      ->check(CLI::IsMember({"hnsw", "exact"}))
      ->capture_default_str();
  app.add_option("--hnsw-ef-search", options.hnsw.ef_search,
                 "Candidates an HNSW search keeps: higher finds more true neighbours, slower")
      ->capture_default_str();
  app.add_option("--half-life-hours", options.profile.half_life_hours,
                 "Hours after which a shopper event counts half in their profile")
      ->capture_default_str();
  app.add_option("--retention-days", options.retention_days,
                 "Days a shopper event is kept (0: forever); older events are rejected when sent and deleted "
                 "from the store at start and every hour while serving")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--purge-delay", options.purge_delay_seconds,
                 "Seconds after erasing a shopper within which the store's files no longer hold their data "
                 "(0: before the erasure returns)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--profile-store", options.profile_store,
                 "Where shopper events and profiles live: embedded (the data dir's store) or a Redis server "
                 "shared by several replicas, redis://HOST[:PORT][/DATABASE][?timeout_ms=N] (docs/scaling-redis.md)")
      ->check([](const std::string& value) {
        return value == "embedded" || value.rfind("redis://", 0) == 0
                   ? std::string()
                   : "profile store '" + value + "' is unknown: use embedded or redis://HOST:PORT/DATABASE";
      })
      ->capture_default_str();
  app.add_option("--replica-name", options.replica_name,
                 "With a Redis profile store: this replica's name, unique among the replicas; catalogue upserts, "
                 "deletes and imports then reach every replica through the Redis stream tessera:catalog "
                 "(default: none, catalogue changes stay on this replica)");
  app.add_option("--fusion", options.hybrid.fusion,
                 "How a text query's word matches and joint-space neighbours merge: bands (words decide, "
                 "joint similarity orders equal matches), rrf (reciprocal rank fusion) or normalized")
      ->check(CLI::IsMember({"bands", "rrf", "normalized"}))
      ->capture_default_str();
  app.add_option("--rerank-depth", options.rerank_depth,
                 "Candidates per query that the ranker scores and personalization re-orders")
      ->capture_default_str();
  app.add_option("--consensus-depth", options.consensus_depth,
                 "Candidates at the head of the retrieval order that the consensus ranking features compare "
                 "each candidate with, for `features` and `train-ranker` (0: those features are missing); a "
                 "loaded model uses the depth it was trained with")
      ->capture_default_str();
  app.add_option("--ranker-model", options.ranker_model_path,
                 "Learned ranker model to load (default: DATA_DIR/models/ranker.model when it exists; "
                 "without one the retrieval score ranks)");

  // ingest
  CLI::App* ingest = app.add_subcommand("ingest", "Add or update products from a catalogue");
  std::string fashion_dir, jsonl_path;
  ingest->add_option("--fashion", fashion_dir, "Folder in the Kaggle fashion layout (styles.csv, images/)");
  ingest->add_option("--jsonl", jsonl_path, "JSONL product file (docs/catalogue-formats.md)");
  bool skip_speech = false;
  ingest->add_flag("--skip-speech", skip_speech, "Do not rebuild the speech model after ingesting");

  // serve
  CLI::App* serve = app.add_subcommand(
      "serve", "Serve the HTTP API and the storefront. Global options (tessera --help) may follow serve, e.g. --config FILE");
  tessera::HttpServerOptions server_options;
  server_options.web_dir = TESSERA_WEB_DIR;
  serve->add_option("--host", server_options.host, "Address to listen on")->capture_default_str();
  serve->add_option("--port", server_options.port, "TCP port to listen on (0: any free port)")->capture_default_str();
  serve->add_option("--web-dir", server_options.web_dir, "Folder with the storefront files (\"\": serve the API only)")
      ->capture_default_str();
  serve->add_option("--threads", server_options.threads,
                    "Worker threads; each serves one connection at a time, for all its keep-alive requests")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  serve->add_option("--slow-request-ms", server_options.slow_request_ms,
                    "Requests slower than this many milliseconds are logged as slow")
      ->capture_default_str();
  // Operations: load shedding and graceful shutdown.
  serve->add_option("--max-queued-connections", server_options.max_queued_connections,
                    "Connections that may wait for a busy worker; beyond them, requests are answered 503 with "
                    "Retry-After at once (0: no limit, never shed)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--retry-after", server_options.retry_after_seconds,
                    "Seconds a shed request's Retry-After header asks the client to wait")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve->add_option("--keep-alive-timeout", server_options.keep_alive_seconds,
                    "Seconds an idle keep-alive connection keeps its worker thread before it is closed")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve->add_option("--keep-alive-requests", server_options.keep_alive_requests,
                    "Requests a connection may send before the server closes it (frees its worker for waiting "
                    "connections)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  double shutdown_timeout_seconds = 30;
  serve->add_option("--shutdown-timeout", shutdown_timeout_seconds,
                    "Seconds SIGTERM or SIGINT waits for requests in flight before exiting with code 1 anyway "
                    "(0: no limit)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();

  // serve: API keys, CORS and request limits (docs/api-security.md)
  tessera::AccessOptions& access = server_options.access;
  std::vector<std::string> rate_limits;
  serve->add_option("--api-keys", access.keys_file,
                    "Keys file (ROLE SHA256 [LABEL] per line, written by `tessera keys create`); without it every "
                    "route is open");
  serve->add_option("--storefront-key-file", access.storefront_key_file,
                    "File containing a search-role key of the keys file, which the storefront page is given");
  serve->add_option("--cors-origin", access.cors_origin,
                    "The one origin (scheme://host[:port]) whose browser requests get CORS headers; default none");
  serve->add_option("--rate-limit", rate_limits,
                    "Requests a second per caller and their burst, as ROLE=PER_SECOND[/BURST] (defaults: search=100/200, "
                    "analytics=20/40, admin=100/200; 0 turns a limit off); repeat for several roles. Without --api-keys, "
                    "limits apply per client address only when this option is given");
  serve->add_option("--max-query-bytes", access.max_query_bytes, "Largest query string, bytes")->capture_default_str();
  serve->add_option("--max-json-body-bytes", access.max_json_body_bytes,
                    "Largest body of the JSON routes (events, products, users), bytes")
      ->capture_default_str();
  serve->add_option("--max-upload-bytes", server_options.max_body_bytes, "Largest photo or voice upload, bytes")
      ->capture_default_str();
  serve->add_option("--max-import-bytes", access.max_import_body_bytes, "Largest bulk import body, bytes")
      ->capture_default_str();

  // keys
  CLI::App* keys = app.add_subcommand("keys", "Create and list API keys");
  keys->require_subcommand(1);
  std::string keys_file, key_role = "search", key_label;
  CLI::App* keys_create = keys->add_subcommand(
      "create", "Print a new random key once and append its role and SHA-256 (never the key) to the keys file");
  keys_create->add_option("--api-keys", keys_file, "Keys file to append to (created with mode 0600 if missing)")->required();
  keys_create->add_option("--role", key_role, "search, analytics or admin")
      ->check(CLI::IsMember({"search", "analytics", "admin"}))
      ->capture_default_str();
  keys_create->add_option("--label", key_label, "Free text stored beside the hash, e.g. storefront");
  CLI::App* keys_list = keys->add_subcommand("list", "Print each key's id (first 8 hex digits of its SHA-256), role and label");
  keys_list->add_option("--api-keys", keys_file, "Keys file to read")->required();

  // search
  CLI::App* search = app.add_subcommand("search", "Run one query and print the results as JSON");
  tessera::SearchRequest request;
  std::string image_path, voice_path;
  search->add_option("query", request.text, "Query text");
  search->add_option("--user", request.user_id, "Shopper id to personalize for (default: none, not personalized)");
  search->add_option("--session", request.session_id,
                     "Session whose session vector personalizes (default: the shopper's latest)");
  search->add_option("--image", image_path, "Search by this photo");
  search->add_option("--voice", voice_path, "Search by this recording (WAV, FLAC, Ogg)");
  search->add_option("--category", request.filters.category, "Category filter, comma-separated values (default: any)");
  search->add_option("--gender", request.filters.gender, "Gender filter, comma-separated values (default: any)");
  search->add_option("--colour", request.filters.colour, "Colour filter, comma-separated values (default: any)");
  search->add_option("--per-page", request.per_page, "Results per page")->capture_default_str();
  search->add_flag("--explain", request.explain, "Print every result's feature values and their contributions");

  // eval
  CLI::App* eval = app.add_subcommand("eval", "Measure nDCG@10, MRR@10 and Recall@100 per query kind on a judged query set");
  std::string judgments_path, write_judgments_path;
  tessera::JudgmentOptions judgment_options;
  eval->add_option("--judgments", judgments_path, "JSONL judged queries; derived from the catalogue when absent");
  eval->add_option("--write-judgments", write_judgments_path, "Write the judged queries used to this file");
  eval->add_option("--queries", judgment_options.max_queries, "Plain queries to derive; each adds up to three variants")
      ->capture_default_str();
  eval->add_option("--seed", judgment_options.seed, "Seed for sampling derived queries and placing typos")
      ->capture_default_str();

  // delete
  CLI::App* remove = app.add_subcommand("delete", "Delete a product by id");
  std::string delete_id;
  remove->add_option("id", delete_id, "Product id")->required();

  // train-encoders
  CLI::App* train = app.add_subcommand(
      "train-encoders", "Train the joint text-photo space on the ingested products' titles and photo vectors");
  tessera::TrainEncodersOptions train_options;
  tessera::JointSpaceTrainingOptions& t = train_options.training;
  train->add_option("--out", train_options.out_path, "Model file to write (default: DATA_DIR/models/joint-space.model)");
  train->add_option("--photo-encoder", train_options.photo_encoder, "Name of the stored photo vectors to train on")
      ->capture_default_str();
  train->add_option("--epochs", t.epochs, "Maximum passes over the training pairs")->capture_default_str();
  train->add_option("--dim", t.config.dimension, "Dimensions of the joint space")->capture_default_str();
  train->add_option("--seed", t.seed, "Seed for initialization, shuffling and text augmentation")->capture_default_str();
  train->add_option("--threads", t.threads, "torch threads; 1 gives the same model for the same seed")
      ->capture_default_str();
  train->add_option("--holdout", t.holdout_fraction, "Fraction of products held out for the final metrics only")
      ->capture_default_str();
  train->add_option("--validation", t.validation_fraction,
                    "Fraction of the other products kept out of training for early stopping and tuning")
      ->capture_default_str();
  train->add_option("--batch-size", t.batch_size, "Pairs per batch; each pair's negatives are the batch's other pairs")
      ->capture_default_str();
  train->add_option("--learning-rate", t.learning_rate, "Adam learning rate")->capture_default_str();
  train->add_option("--patience", t.patience, "Epochs without a lower validation loss before stopping (0: never stop early)")
      ->capture_default_str();
  train->add_option("--extra-text-rate", t.extra_text_rate,
                    "Fraction of training texts extended with article type, colour, gender and usage")
      ->capture_default_str();
  train->add_option("--type-loss-weight", t.type_loss_weight,
                    "Weight of the supervised contrastive term whose positives share the article type (0: off)")
      ->capture_default_str();
  train->add_option("--type-colour-loss-weight", t.type_colour_loss_weight,
                    "Weight of the supervised contrastive term whose positives share article type and colour (0: off)")
      ->capture_default_str();
  train->add_option("--photo-dropout", t.photo_dropout, "Dropout rate in the photo projection during training")
      ->capture_default_str();
  train->add_option("--photo-hidden-dim", t.config.photo_hidden_dim, "Width of the photo projection's hidden layer")
      ->capture_default_str();

  // features
  CLI::App* features = app.add_subcommand("features", "Write the ranking feature rows of the judged queries' candidates");
  tessera::FeatureLogOptions feature_options;
  features->add_option("--judgments", feature_options.judged.judgments_path,
                       "Judged queries (JSON Lines, as written by eval --write-judgments); default: derived from the catalogue");
  features->add_option("--out", feature_options.out_path, "File to write (default: standard output)");
  features->add_option("--format", feature_options.format, "jsonl (features by name) or svmlight (LETOR)")
      ->check(CLI::IsMember({"jsonl", "svmlight"}))
      ->capture_default_str();
  bool describe_features = false;
  features->add_flag("--describe", describe_features, "Print the feature names and descriptions instead");

  // train-ranker
  CLI::App* train_ranker = app.add_subcommand(
      "train-ranker", "Train the linear and LambdaMART rankers on the judged queries and write one as the ranker model");
  tessera::TrainRankerOptions ranker_options;
  std::string ranker_kind = "lambdamart";
  tessera::RankerTrainingOptions& rt = ranker_options.training;
  train_ranker->add_option("--judgments", ranker_options.judged.judgments_path,
                           "Judged queries (JSON Lines); default: derived from the catalogue");
  train_ranker->add_option("--out", ranker_options.out_path, "Model file to write (default: DATA_DIR/models/ranker.model)");
  train_ranker->add_option("--feature-rows", ranker_options.feature_rows_paths,
                           "Logged feature rows to train on beside the judged queries (JSON Lines of `tessera features`, "
                           "repeatable): e.g. searches of shoppers with profiles, so the model learns the personal features")
      ->check(CLI::ExistingFile);
  bool train_if_unusable = false;
  train_ranker->add_flag("--if-unusable", train_if_unusable,
                         "Train only when the model file is missing or this build cannot load it (for example, "
                         "it was trained on another feature schema); otherwise exit without changing it");
  train_ranker->add_option("--kind", ranker_kind, "Model to write: lambdamart or linear")
      ->check(CLI::IsMember({"lambdamart", "linear"}))
      ->capture_default_str();
  train_ranker->add_option("--seed", rt.seed, "Seed of XGBoost's row sampling")->capture_default_str();
  train_ranker->add_option("--rounds", rt.max_rounds, "Boosting rounds at most")->capture_default_str();
  train_ranker->add_option("--patience", rt.patience, "Rounds without a better validation nDCG@10 before stopping")
      ->capture_default_str();
  train_ranker->add_option("--learning-rate", rt.learning_rate, "LambdaMART shrinkage (eta)")->capture_default_str();
  train_ranker->add_option("--max-depth", rt.max_depth, "LambdaMART tree depth")->capture_default_str();
  train_ranker->add_option("--objective", rt.tree_objective,
                           "LambdaMART's XGBoost objective: rank:ndcg, or rank:pairwise (pairs without the nDCG weight)")
      ->check(CLI::IsMember({"rank:ndcg", "rank:pairwise"}))
      ->capture_default_str();
  train_ranker->add_option("--threads", rt.threads, "XGBoost threads while training")->capture_default_str();
  train_ranker->add_option("--test-fraction", ranker_options.test_fraction,
                           "Share of judged queries held out for the test metrics (a query and its variants together)")
      ->capture_default_str();
  train_ranker->add_option("--validation-fraction", ranker_options.validation_fraction,
                           "Share of judged queries that choose the number of rounds")
      ->capture_default_str();
  // train-click-model
  CLI::App* train_click = app.add_subcommand(
      "train-click-model",
      "Train the neural click model on clicks simulated over the judged queries, or on the Best Buy sample (--bestbuy)");
  tessera::TrainClickModelOptions click_options;
  tessera::BestBuyClickOptions bestbuy_options;
  tessera::ClickSimulationOptions& cs = click_options.simulation;
  tessera::ClickTrainingOptions& ct = click_options.training;
  train_click->add_option("--judgments", click_options.judged.judgments_path,
                          "Judged queries (JSON Lines); default: derived from the catalogue");
  train_click->add_option("--judgment-seed", click_options.judged.derive.seed, "Seed of the derived judged queries")
      ->capture_default_str();
  train_click->add_option("--out", click_options.out_path,
                          "Model file to write (default: DATA_DIR/models/click.model, or click-bestbuy.model with --bestbuy)");
  train_click->add_option("--bestbuy", bestbuy_options.dir,
                          "Train on the Best Buy search clicks in this folder (its train.csv) instead of simulated clicks");
  train_click->add_option("--negatives", bestbuy_options.negatives,
                          "With --bestbuy: other skus of the clicked category sampled per click")
      ->capture_default_str();
  train_click->add_option("--voice-dir", click_options.voice_dir,
                          "Folder of spoken judged queries, <query id>.wav, fed to the audio branch");
  train_click->add_option("--sessions", cs.sessions, "Simulated sessions (one query by one shopper each)")->capture_default_str();
  train_click->add_option("--depth", cs.depth, "Results shown per simulated session")->capture_default_str();
  train_click->add_option("--eta", cs.eta, "Examination exponent: P(examine rank r) = 1 / r^eta")->capture_default_str();
  train_click->add_option("--epsilon", cs.epsilon, "Attractiveness of a product with grade 0")->capture_default_str();
  train_click->add_option("--alpha-max", cs.alpha_max, "Attractiveness of a product at the query's top grade")
      ->capture_default_str();
  train_click->add_option("--noise-sd", cs.noise_sd, "Standard deviation of the per (query, product) attractiveness noise")
      ->capture_default_str();
  train_click->add_option("--shoppers", cs.shoppers, "Simulated shoppers, each with a preferred colour")->capture_default_str();
  train_click->add_option("--preference-lift", cs.preference_lift,
                          "Share of the missing attractiveness a shopper's preferred colour adds")
      ->capture_default_str();
  train_click->add_option("--simulation-seed", cs.seed, "Seed of the click simulation")->capture_default_str();
  train_click->add_option("--seed", ct.seed, "Seed of the weights and the shuffle")->capture_default_str();
  train_click->add_option("--epochs", ct.epochs, "Epochs at most")->capture_default_str();
  train_click->add_option("--patience", ct.patience, "Epochs without a lower validation loss before stopping")
      ->capture_default_str();
  train_click->add_option("--batch-size", ct.batch_size, "Examples per Adam step")->capture_default_str();
  train_click->add_option("--learning-rate", ct.learning_rate, "Adam learning rate")->capture_default_str();
  train_click->add_option("--threads", ct.threads, "Torch threads while training")->capture_default_str();
  train_click->add_option("--test-fraction", click_options.test_fraction,
                          "Share of judged queries held out for the test metrics (as train-ranker splits them)")
      ->capture_default_str();
  train_click->add_option("--validation-fraction", click_options.validation_fraction,
                          "Share of judged queries that choose the epoch")
      ->capture_default_str();

  for (CLI::App* command : {features, train_ranker}) {
    command->add_option("--judgment-seed", command == features ? feature_options.judged.derive.seed
                                                               : ranker_options.judged.derive.seed,
                        "Seed of the derived judged queries")
        ->capture_default_str();
  }
  for (auto [command, judged] : {std::pair{features, &feature_options.judged}, std::pair{train_ranker, &ranker_options.judged},
                                 std::pair{train_click, &click_options.judged}}) {
    command->add_option("--photo-queries", judged->photo.max_queries,
                        "Photo queries (a product's photo, no words) to derive beside the text queries; 0 for none")
        ->capture_default_str();
  }

  CLI11_PARSE(app, argc, argv);
  if (describe_features) {
    for (const tessera::FeatureInfo& info : tessera::FeatureInfos()) std::cout << info.name << "\t" << info.description << "\n";
    return 0;
  }
  // Logs go to stderr so that stdout carries only results (JSON for search, eval and benchmarks).
  spdlog::set_default_logger(spdlog::stderr_color_mt("tessera"));
  tessera::SetLogFormat(*tessera::LogFormatFromName(log_format));
  if (*serve) {
    // Before the engine starts its threads, so that they inherit the mask (stop_signals.h).
    tessera::BlockStopSignals();
    std::vector<tessera::LogField> start_fields = {{"version", TESSERA_VERSION}};
    for (tessera::LogField& field : tessera::OptionValues(app)) start_fields.push_back(std::move(field));
    tessera::LogEvent(spdlog::level::info, "server starting", start_fields);
  }

  // Keys need no store.
  if (*keys_create) {
    tessera::Result<std::string> key = tessera::GenerateApiKey();
    if (!key.ok()) return Fail(key.status());
    tessera::Result<tessera::ApiKeyEntry> entry =
        tessera::AppendApiKey(keys_file, *key, *tessera::RoleFromName(key_role), key_label);
    if (!entry.ok()) return Fail(entry.status());
    std::cout << *key << "\n";
    spdlog::info("added {} key {} to {}; the key is printed only this once", key_role, entry->key_id, keys_file);
    return 0;
  }
  if (*keys_list) {
    tessera::Result<tessera::ApiKeys> loaded = tessera::ApiKeys::Load(keys_file);
    if (!loaded.ok()) return Fail(loaded.status());
    for (const tessera::ApiKeyEntry& entry : loaded->entries()) {
      std::cout << entry.key_id << "\t" << tessera::RoleName(entry.role) << "\t" << entry.label << "\n";
    }
    return 0;
  }

  // A model this build loads needs no training; checked before the engine's slow start.
  if (*train_ranker && train_if_unusable) {
    const std::string path = ranker_options.out_path.empty()
                                 ? (std::filesystem::path(options.data_dir) / "models" / "ranker.model").string()
                                 : ranker_options.out_path;
    tessera::Result<std::unique_ptr<tessera::XgboostRanker>> current = tessera::XgboostRanker::Load(path);
    if (current.ok()) {
      spdlog::info("ranker model {} loads with this build; not retrained", path);
      return 0;
    }
    spdlog::info("training the ranker, because the current model is unusable: {}", current.status().ToString());
  }

  // Trains from the store alone, so it runs before the engine opens (and locks) the store.
  if (*train) {
    train_options.data_dir = options.data_dir;
    Status trained = tessera::RunTrainEncoders(train_options, std::cout);
    return trained.ok() ? 0 : Fail(trained);
  }

  // The Best Buy sample needs no catalogue, so it runs without opening the store.
  if (*train_click && !bestbuy_options.dir.empty()) {
    bestbuy_options.data_dir = options.data_dir;
    bestbuy_options.out_path = click_options.out_path;
    bestbuy_options.training = click_options.training;
    bestbuy_options.test_fraction = click_options.test_fraction;
    bestbuy_options.validation_fraction = click_options.validation_fraction;
    Status trained = tessera::RunTrainClickModelBestBuy(bestbuy_options, std::cout);
    return trained.ok() ? 0 : Fail(trained);
  }

  for (const std::string& limit : rate_limits) {
    Status parsed = tessera::ParseRateLimitFlag(limit, &server_options.access);
    if (!parsed.ok()) return Fail(parsed);
  }
  options.query.time_budget = std::chrono::milliseconds(time_budget_ms);
  for (const std::string& setting : field_weights) {
    const size_t equals = setting.find('=');
    float weight = 0;
    const char* begin = equals == std::string::npos ? nullptr : setting.data() + equals + 1;
    const char* end = setting.data() + setting.size();
    if (begin == nullptr || std::from_chars(begin, end, weight).ptr != end) {
      return Fail(Status::InvalidArgument("--field-weight '" + setting + "' is not FIELD=WEIGHT, e.g. title=1.5"));
    }
    options.field_weights[setting.substr(0, equals)] = weight;
  }
  tessera::SystemClock clock;
  int exit_code = 0;
  std::unique_ptr<Engine> engine = OpenEngine(options, &clock, &exit_code);
  if (!engine) return exit_code;

  if (*ingest) {
    if (fashion_dir.empty() == jsonl_path.empty()) {
      return Fail(Status::InvalidArgument("ingest needs exactly one of --fashion DIR or --jsonl FILE"));
    }
    tessera::Result<tessera::IngestReport> report = [&]() -> tessera::Result<tessera::IngestReport> {
      if (!fashion_dir.empty()) return engine->IngestFashionCatalog(fashion_dir);
      std::ifstream in(jsonl_path, std::ios::binary);
      if (!in) return Status::NotFound("catalogue file " + jsonl_path + " not found or unreadable");
      return engine->IngestJsonl(in, std::filesystem::absolute(jsonl_path).parent_path().string());
    }();
    if (!report.ok()) return Fail(report.status());
    PrintReport(*report);
    if (!skip_speech) {
      Status speech = engine->RebuildSpeechModel();
      if (!speech.ok()) spdlog::warn("speech model not built, voice search is off: {}", speech.ToString());
    }
    return 0;
  }

  if (*serve) {
    server_options.version = TESSERA_VERSION;
    Status served = RunServer(*engine, server_options, shutdown_timeout_seconds);
    if (!served.ok()) return Fail(served);
    const tessera::EngineStats stats = engine->Stats();
    engine.reset();  // writes the profiles still behind their events, then closes the store
    tessera::LogEvent(spdlog::level::info, "server stopped",
                      {{"profile_events_flushed", stats.unflushed_events}, {"data_dir", options.data_dir}});
    return 0;
  }

  if (*search) {
    tessera::Result<tessera::SearchResponse> response = [&]() -> tessera::Result<tessera::SearchResponse> {
      if (!image_path.empty() || !voice_path.empty()) {
        const std::string& path = image_path.empty() ? voice_path : image_path;
        std::optional<std::string> bytes = tessera::ReadFileBytes(path);
        if (!bytes) return Status::NotFound("file " + path + " not found or unreadable");
        return image_path.empty() ? engine->SearchByVoice(*bytes, request) : engine->SearchByImage(*bytes, request);
      }
      return engine->Search(request);
    }();
    if (!response.ok()) return Fail(response.status());
    nlohmann::json out = {{"total", response->total}, {"took_ms", response->took_ms}};
    if (response->transcript) out["transcript"] = response->transcript->text;
    for (const tessera::SearchHit& hit : response->hits) {
      nlohmann::json result = {{"id", hit.product->id}, {"title", hit.product->title}, {"score", hit.score}};
      if (hit.features && hit.explanation) {
        result["relevance"] = hit.relevance;
        result["bias"] = hit.explanation->bias;
        for (const tessera::FeatureContribution& c : hit.explanation->contributions) {
          result["contributions"][tessera::FeatureName(c.feature)] = c.contribution;
        }
        for (size_t f = 0; f < tessera::kFeatureCount; ++f) {
          const float value = (*hit.features)[f];
          result["features"][tessera::FeatureInfos()[f].name] = std::isnan(value) ? nlohmann::json(nullptr) : nlohmann::json(value);
        }
        result["personal_boost"] = hit.personal_boost;
        result["personal_boost_by_facet"] = hit.boost_by_facet;
        result["personal_boost_session"] = hit.session_boost;
        result["session_cosine"] = hit.session_cosine;
      }
      out["results"].push_back(result);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  if (*eval) {
    std::vector<tessera::JudgedQuery> queries;
    if (!judgments_path.empty()) {
      tessera::Result<std::vector<tessera::JudgedQuery>> read = tessera::ReadJudgedQueries(judgments_path);
      if (!read.ok()) return Fail(read.status());
      queries = std::move(read).value();
    } else {
      queries = tessera::DeriveJudgedQuerySet(engine->AllProducts(), judgment_options);
    }
    if (queries.empty()) return Fail(Status::InvalidArgument("no judged queries: ingest a catalogue first"));
    if (!write_judgments_path.empty()) {
      Status written = tessera::WriteJudgedQueries(queries, write_judgments_path);
      if (!written.ok()) return Fail(written);
    }

    // 100 results per query for Recall@100; nDCG@10 and MRR@10 read the first 10.
    RelevanceValues overall;
    std::map<std::string, RelevanceValues> by_kind;
    std::vector<double> latency;
    for (const tessera::JudgedQuery& query : queries) {
      tessera::SearchRequest eval_request;
      eval_request.text = query.text;
      eval_request.per_page = 100;
      eval_request.facets = false;  // relevance and latency of ranking alone, as the peers measure
      tessera::Result<tessera::SearchResponse> response = engine->Search(eval_request);
      if (!response.ok()) return Fail(response.status());
      std::vector<std::string> ranked;
      for (const tessera::SearchHit& hit : response->hits) ranked.push_back(hit.product->id);
      overall.Add(ranked, query);
      by_kind[query.kind].Add(ranked, query);
      latency.push_back(response->took_ms);
    }

    const tessera::MetricSummary l = tessera::Summarize(latency);
    nlohmann::json out = overall.ToJson();
    for (const auto& [kind, values] : by_kind) out["kinds"][kind] = values.ToJson();
    out["latency_ms"] = {{"mean", l.mean}, {"median", l.median}, {"p95", l.p95}, {"p99", l.p99}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  if (*features) {
    Status written = tessera::RunFeatureLog(*engine, feature_options, std::cout);
    return written.ok() ? 0 : Fail(written);
  }

  if (*train_ranker) {
    ranker_options.data_dir = options.data_dir;
    ranker_options.kind = *tessera::RankerKindFromName(ranker_kind);
    Status trained = tessera::RunTrainRanker(*engine, ranker_options, std::cout);
    return trained.ok() ? 0 : Fail(trained);
  }

  if (*train_click) {
    click_options.data_dir = options.data_dir;
    Status trained = tessera::RunTrainClickModel(*engine, click_options, std::cout);
    return trained.ok() ? 0 : Fail(trained);
  }

  if (*remove) {
    Status deleted = engine->Delete(delete_id);
    if (!deleted.ok()) return Fail(deleted);
    std::cout << "deleted " << delete_id << "\n";
    return 0;
  }
  return 0;
}
