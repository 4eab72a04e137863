#include "server/import.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "json/json.h"

namespace ipa::server {
namespace {

namespace fs = std::filesystem;

struct Pending {
  json::Value resource;
  size_t line;
};

class Progress {
 public:
  Progress(bool enabled, std::string file, uint64_t total_bytes)
      : enabled_(enabled), file_(std::move(file)), total_(total_bytes) {}
  void update(uint64_t done_bytes, int64_t count) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(200) && done_bytes < total_) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? static_cast<double>(count) / secs : 0;
    double frac = total_ ? static_cast<double>(done_bytes) / static_cast<double>(total_) : 1;
    double eta = frac > 0 ? secs / frac - secs : 0;
    int width = 30;
    int filled = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r%s [%.*s%*s] %3.0f%% %lld resources %.0f/s ETA %.0fs ", file_.c_str(),
                 filled, "##############################", width - filled, "", frac * 100,
                 static_cast<long long>(count), rate, eta);
  }
  void done() {
    if (enabled_) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
  std::string file_;
  uint64_t total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

void flush(rest::FhirApi& api, const std::string& file, std::vector<Pending>& pending,
           ImportTotals& totals) {
  if (pending.empty()) return;
  std::vector<json::Value> batch;
  batch.reserve(pending.size());
  for (auto& p : pending) batch.push_back(std::move(p.resource));
  auto results = api.import_resources(std::move(batch));
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      const core::Error& e = results[i].error();
      std::fprintf(stderr, "%s:%zu: %s%s%s\n", file.c_str(), pending[i].line, e.diagnostics.c_str(),
                   e.expression.empty() ? "" : " at ", e.expression.c_str());
      ++totals.rejected;
      continue;
    }
    switch (*results[i]) {
      case rest::FhirApi::ImportKind::kCreated:
        ++totals.created;
        break;
      case rest::FhirApi::ImportKind::kUpdated:
        ++totals.updated;
        break;
      case rest::FhirApi::ImportKind::kUnchanged:
        ++totals.unchanged;
        break;
    }
  }
  pending.clear();
}

void reject(const std::string& file, size_t line, const std::string& why, ImportTotals& totals) {
  std::fprintf(stderr, "%s:%zu: %s\n", file.c_str(), line, why.c_str());
  ++totals.rejected;
}

// Adds a parsed JSON document: a Bundle contributes its entries' resources.
void add_document(json::Value doc, size_t line, const std::string& file,
                  std::vector<Pending>& pending, ImportTotals& totals) {
  if (doc.get_string("resourceType") == "Bundle") {
    std::string_view type = doc.get_string("type");
    if (type == "transaction" || type == "batch" || type == "collection" || type == "searchset" ||
        type == "history" || type == "document" || type == "message") {
      if (type == "document" || type == "message") {
        pending.push_back({std::move(doc), line});  // a document is itself a resource
        return;
      }
      json::Value* entries = doc.find("entry");
      if (entries == nullptr) return;
      size_t i = 0;
      for (auto& e : entries->items()) {
        json::Value* r = e.find("resource");
        if (r == nullptr) {
          reject(file, line, "Bundle.entry[" + std::to_string(i) + "] has no resource", totals);
        } else if (type == "searchset" && e.find("search") != nullptr &&
                   e.find("search")->get_string("mode") == "outcome") {
          // an OperationOutcome about the search, not data
        } else {
          pending.push_back({std::move(*r), line});
        }
        ++i;
      }
      return;
    }
  }
  pending.push_back({std::move(doc), line});
}

void import_file(rest::FhirApi& api, const fs::path& path, const ImportOptions& options,
                 ImportTotals& totals) {
  std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    reject(file, 0, "cannot open the file", totals);
    return;
  }
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  Progress progress(options.progress, path.filename().string(), ec ? 0 : size);
  ImportTotals before = totals;
  std::vector<Pending> pending;
  bool ndjson = path.extension() == ".ndjson" || path.extension() == ".jsonl";
  if (!ndjson) {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto doc = json::parse(text);
    if (!doc.ok()) {
      reject(file, 1, doc.error().diagnostics, totals);
    } else {
      add_document(std::move(*doc), 1, file, pending, totals);
    }
    while (!pending.empty()) {
      std::vector<Pending> chunk;
      size_t n = std::min(options.batch, pending.size());
      chunk.assign(std::make_move_iterator(pending.begin()),
                   std::make_move_iterator(pending.begin() + static_cast<long>(n)));
      pending.erase(pending.begin(), pending.begin() + static_cast<long>(n));
      flush(api, file, chunk, totals);
      progress.update(size, totals.created + totals.updated + totals.unchanged - before.created -
                                before.updated - before.unchanged);
    }
  } else {
    std::string line;
    size_t line_no = 0;
    uint64_t done = 0;
    while (std::getline(in, line)) {
      ++line_no;
      done += line.size() + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto doc = json::parse(line);
      if (!doc.ok()) {
        reject(file, line_no, doc.error().diagnostics, totals);
        continue;
      }
      add_document(std::move(*doc), line_no, file, pending, totals);
      if (pending.size() >= options.batch) {
        flush(api, file, pending, totals);
        progress.update(done, totals.created + totals.updated + totals.unchanged - before.created -
                                  before.updated - before.unchanged);
      }
    }
    flush(api, file, pending, totals);
    progress.update(done, totals.created + totals.updated + totals.unchanged - before.created -
                              before.updated - before.unchanged);
  }
  progress.done();
  std::fprintf(stderr, "%s: %lld created, %lld updated, %lld unchanged, %lld rejected\n",
               file.c_str(), static_cast<long long>(totals.created - before.created),
               static_cast<long long>(totals.updated - before.updated),
               static_cast<long long>(totals.unchanged - before.unchanged),
               static_cast<long long>(totals.rejected - before.rejected));
}

}  // namespace

ImportTotals import_files(rest::FhirApi& api, const std::vector<std::string>& paths,
                          const ImportOptions& options) {
  ImportTotals totals;
  auto start = std::chrono::steady_clock::now();
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(p)) {
        auto ext = e.path().extension();
        if (ext == ".ndjson" || ext == ".json" || ext == ".jsonl") files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) import_file(api, f, options, totals);
    } else {
      import_file(api, p, options, totals);
    }
  }
  totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return totals;
}

}  // namespace ipa::server
