#include "eval/item_embedding.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <utility>

namespace tessera {
namespace {

// A symmetric sparse matrix in compressed sparse row form.
struct SparseMatrix {
  size_t size = 0;
  std::vector<size_t> row_start;  // size + 1 offsets into columns and values
  std::vector<uint32_t> columns;
  std::vector<double> values;
};

// Column-major dense block: columns[c][row].
using DenseColumns = std::vector<std::vector<double>>;

SparseMatrix CountCooccurrence(const std::vector<std::vector<uint32_t>>& sessions, size_t item_count,
                               size_t window) {
  std::vector<std::map<uint32_t, double>> rows(item_count);
  for (const std::vector<uint32_t>& session : sessions) {
    for (size_t i = 0; i < session.size(); ++i) {
      const size_t last = std::min(session.size(), i + window + 1);
      for (size_t j = i + 1; j < last; ++j) {
        assert(session[i] < item_count);
        assert(session[j] < item_count);
        if (session[i] == session[j]) continue;
        rows[session[i]][session[j]] += 1;
        rows[session[j]][session[i]] += 1;
      }
    }
  }

  SparseMatrix matrix;
  matrix.size = item_count;
  matrix.row_start.push_back(0);
  for (const std::map<uint32_t, double>& row : rows) {
    for (const auto& [column, count] : row) {
      matrix.columns.push_back(column);
      matrix.values.push_back(count);
    }
    matrix.row_start.push_back(matrix.columns.size());
  }
  return matrix;
}

// Replaces counts by max(0, PMI). Both marginals are raised to `smoothing` so the matrix stays
// symmetric. Levy et al. (2015) smooth only the context side; smoothing both lowers the PMI of
// rare items on either side, which is the purpose of the smoothing.
void ConvertToPpmi(SparseMatrix& matrix, double smoothing) {
  std::vector<double> marginal(matrix.size, 0);
  double total = 0;
  for (size_t row = 0; row < matrix.size; ++row) {
    for (size_t k = matrix.row_start[row]; k < matrix.row_start[row + 1]; ++k) marginal[row] += matrix.values[k];
    total += marginal[row];
  }
  std::vector<double> smoothed(matrix.size);
  for (size_t i = 0; i < matrix.size; ++i) smoothed[i] = std::pow(marginal[i], smoothing);
  const double smoothed_total = std::accumulate(smoothed.begin(), smoothed.end(), 0.0);

  // PMI(i, j) = log( P(i, j) / (P_s(i) P_s(j)) ) with P(i, j) = count / total and
  // P_s(i) = marginal(i)^s / sum of marginal^s.
  for (size_t row = 0; row < matrix.size; ++row) {
    for (size_t k = matrix.row_start[row]; k < matrix.row_start[row + 1]; ++k) {
      const double joint = matrix.values[k] / total;
      const double pmi = std::log(joint) - std::log(smoothed[row] / smoothed_total) -
                         std::log(smoothed[matrix.columns[k]] / smoothed_total);
      matrix.values[k] = std::max(0.0, pmi);
    }
  }
}

DenseColumns Multiply(const SparseMatrix& matrix, const DenseColumns& block) {
  DenseColumns product(block.size(), std::vector<double>(matrix.size, 0));
  for (size_t c = 0; c < block.size(); ++c) {
    for (size_t row = 0; row < matrix.size; ++row) {
      double sum = 0;
      for (size_t k = matrix.row_start[row]; k < matrix.row_start[row + 1]; ++k) {
        sum += matrix.values[k] * block[c][matrix.columns[k]];
      }
      product[c][row] = sum;
    }
  }
  return product;
}

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

// Modified Gram-Schmidt, run twice for orthogonality in floating point. A column that is
// (numerically) in the span of the earlier ones becomes zero, which later gives a zero
// eigenvalue that the caller drops.
void Orthonormalize(DenseColumns& block) {
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t c = 0; c < block.size(); ++c) {
      const double norm_before = std::sqrt(Dot(block[c], block[c]));
      for (size_t earlier = 0; earlier < c; ++earlier) {
        const double projection = Dot(block[c], block[earlier]);
        for (size_t row = 0; row < block[c].size(); ++row) block[c][row] -= projection * block[earlier][row];
      }
      const double norm = std::sqrt(Dot(block[c], block[c]));
      const bool dependent = !(norm > 1e-10 * norm_before) || !(norm > 0);
      for (double& x : block[c]) x = dependent ? 0.0 : x / norm;
    }
  }
}

// Eigendecomposition of the symmetric `matrix` (row-major, n x n) by cyclic Jacobi rotations.
// Returns the eigenvalues; `vectors` receives the eigenvectors as its columns (row-major).
std::vector<double> JacobiEigen(std::vector<double> matrix, size_t n, std::vector<double>* vectors) {
  std::vector<double>& v = *vectors;
  v.assign(n * n, 0);
  for (size_t i = 0; i < n; ++i) v[i * n + i] = 1;

  constexpr int kMaxSweeps = 100;
  for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
    double off_diagonal = 0;
    for (size_t p = 0; p < n; ++p) {
      for (size_t q = p + 1; q < n; ++q) off_diagonal += matrix[p * n + q] * matrix[p * n + q];
    }
    if (off_diagonal < 1e-22) break;

    for (size_t p = 0; p < n; ++p) {
      for (size_t q = p + 1; q < n; ++q) {
        const double apq = matrix[p * n + q];
        if (std::abs(apq) < 1e-300) continue;
        // The rotation that zeroes matrix[p][q]: t = tan(angle) is the root of t^2 + 2 theta t - 1 = 0
        // with the smaller magnitude, which keeps the rotation angle at most 45 degrees.
        const double theta = (matrix[q * n + q] - matrix[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1);
        const double s = t * c;
        for (size_t k = 0; k < n; ++k) {  // columns p and q
          const double akp = matrix[k * n + p], akq = matrix[k * n + q];
          matrix[k * n + p] = c * akp - s * akq;
          matrix[k * n + q] = s * akp + c * akq;
        }
        for (size_t k = 0; k < n; ++k) {  // rows p and q
          const double apk = matrix[p * n + k], aqk = matrix[q * n + k];
          matrix[p * n + k] = c * apk - s * aqk;
          matrix[q * n + k] = s * apk + c * aqk;
        }
        for (size_t k = 0; k < n; ++k) {
          const double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }

  std::vector<double> eigenvalues(n);
  for (size_t i = 0; i < n; ++i) eigenvalues[i] = matrix[i * n + i];
  return eigenvalues;
}

}  // namespace

ItemEmbedding TrainPpmiEmbedding(const std::vector<std::vector<uint32_t>>& sessions, size_t item_count,
                                 const ItemEmbeddingOptions& options) {
  ItemEmbedding embedding;
  embedding.item_count = item_count;
  const size_t block_width = std::min(item_count, options.dimensions + options.oversampling);
  embedding.dimensions = std::min(options.dimensions, block_width);
  embedding.values.assign(item_count * embedding.dimensions, 0.0f);
  if (embedding.dimensions == 0) return embedding;

  SparseMatrix ppmi = CountCooccurrence(sessions, item_count, options.window);
  ConvertToPpmi(ppmi, options.context_smoothing);

  // Randomized range finder with subspace iteration (Halko, Martinsson and Tropp, "Finding
  // Structure with Randomness", SIAM Review 53, 2011): Q approximately spans the eigenvectors of
  // the largest-magnitude eigenvalues of the symmetric PPMI matrix.
  std::mt19937_64 random(options.seed);
  std::normal_distribution<double> gaussian;
  DenseColumns block(block_width, std::vector<double>(item_count));
  for (std::vector<double>& column : block) {
    for (double& x : column) x = gaussian(random);
  }
  block = Multiply(ppmi, block);
  for (size_t i = 0; i < options.power_iterations; ++i) {
    Orthonormalize(block);
    block = Multiply(ppmi, block);
  }
  Orthonormalize(block);

  // The small projected matrix B = Q^T X Q, whose eigenpairs give those of X as (lambda, Q v).
  const DenseColumns projected = Multiply(ppmi, block);
  std::vector<double> small(block_width * block_width);
  for (size_t a = 0; a < block_width; ++a) {
    for (size_t b = 0; b < block_width; ++b) small[a * block_width + b] = Dot(block[a], projected[b]);
  }
  for (size_t a = 0; a < block_width; ++a) {  // remove rounding asymmetry
    for (size_t b = a + 1; b < block_width; ++b) {
      const double mean = (small[a * block_width + b] + small[b * block_width + a]) / 2;
      small[a * block_width + b] = small[b * block_width + a] = mean;
    }
  }
  std::vector<double> small_vectors;
  const std::vector<double> eigenvalues = JacobiEigen(std::move(small), block_width, &small_vectors);

  // Keep the largest positive eigenvalues. An item's vector is its row of Q V scaled by
  // sqrt(lambda), the symmetric split of X ~ (Q V sqrt(L)) (Q V sqrt(L))^T. Negative eigenvalues
  // are dropped because they stand for dissimilarity, which a cosine would read as similarity.
  std::vector<size_t> order(block_width);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return eigenvalues[a] > eigenvalues[b]; });
  for (size_t d = 0; d < embedding.dimensions; ++d) {
    const size_t e = order[d];
    if (!(eigenvalues[e] > 0)) break;
    const double scale = std::sqrt(eigenvalues[e]);
    for (size_t item = 0; item < item_count; ++item) {
      double x = 0;
      for (size_t c = 0; c < block_width; ++c) x += block[c][item] * small_vectors[c * block_width + e];
      embedding.values[item * embedding.dimensions + d] = static_cast<float>(x * scale);
    }
  }
  return embedding;
}

}  // namespace tessera
