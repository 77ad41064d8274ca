# Finds every third-party library from Debian 12 packages (installed by scripts/setup.sh).

find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

find_package(RocksDB CONFIG REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc i18n)
find_package(roaring CONFIG REQUIRED)  # CRoaring 0.2.66 ships no version file
find_package(OpenMP REQUIRED)          # must precede faiss, whose config file needs it
find_package(faiss CONFIG REQUIRED)
find_package(ZLIB REQUIRED)            # CRC-32 of saved vector indexes
find_package(OpenCV CONFIG REQUIRED COMPONENTS core imgproc imgcodecs)
# giflib decodes GIF photos, because Debian 12's OpenCV 4.6 is built without a GIF reader.
find_package(GIF REQUIRED)  # CMake's FindGIF module -> GIF::GIF
find_package(nlohmann_json CONFIG REQUIRED)
# libtorch 1.13 (CPU). Link ${TORCH_LIBRARIES}, whose imported targets carry the include folders
# as system headers; a plain include_directories would let its warnings break -Werror.
# RocksDB's config above finds gflags with namespaced targets only (gflags::gflags). libtorch's
# Caffe2 config links a plain `gflags` and, finding none, makes one without a library path,
# which fails at generate time ("IMPORTED_LOCATION not set for imported target gflags"). An
# alias of the real target avoids that.
if(TARGET gflags::gflags AND NOT TARGET gflags)
  add_library(gflags ALIAS gflags::gflags)
endif()
find_package(Torch CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
# Learned ranking. The config file refers to /usr/bin/xgboost, so the `xgboost` package must be
# installed beside libxgboost-dev.
find_package(xgboost CONFIG REQUIRED)

pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# SHA-256 of API keys and random new keys (Debian's libssl-dev).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
# Redis client for the shared profile store (--profile-store redis://); Debian 12's hiredis 0.14.
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
# libvorbis and libogg directly, to check an Ogg upload's Vorbis headers before libsndfile opens it.
pkg_check_modules(VORBIS REQUIRED IMPORTED_TARGET vorbis ogg)
pkg_check_modules(SAMPLERATE REQUIRED IMPORTED_TARGET samplerate)
pkg_check_modules(TESSERACT REQUIRED IMPORTED_TARGET tesseract lept)

# PocketSphinx's .pc file names /usr/include/sphinxbase, which Debian 12 does not ship; an
# IMPORTED_TARGET with a missing include directory fails at generate time, so build the target
# by hand from the directories that exist.
pkg_check_modules(POCKETSPHINX REQUIRED pocketsphinx)
set(TESSERA_POCKETSPHINX_INCLUDES "")
foreach(dir IN LISTS POCKETSPHINX_INCLUDE_DIRS)
  if(EXISTS "${dir}")
    list(APPEND TESSERA_POCKETSPHINX_INCLUDES "${dir}")
  endif()
endforeach()
add_library(tessera_pocketsphinx INTERFACE)
target_include_directories(tessera_pocketsphinx SYSTEM INTERFACE ${TESSERA_POCKETSPHINX_INCLUDES})
target_link_libraries(tessera_pocketsphinx INTERFACE ${POCKETSPHINX_LINK_LIBRARIES})

# Paths the speech recognizer needs at run time, from Debian's pocketsphinx-en-us package.
set(TESSERA_SPHINX_MODEL_DIR "/usr/share/pocketsphinx/model/en-us"
    CACHE PATH "Folder holding the en-us acoustic model and cmudict-en-us.dict")

# Pretrained models, downloaded by scripts/fetch-models.sh into models/ by default.
set(TESSERA_MODEL_DIR "${PROJECT_SOURCE_DIR}/models"
    CACHE PATH "Folder holding the pretrained models (nsfwjs-mobilenet-v2/)")

# libstemmer (Snowball) ships no CMake or pkg-config file.
find_library(STEMMER_LIBRARY stemmer REQUIRED)
find_path(STEMMER_INCLUDE_DIR libstemmer.h REQUIRED)
add_library(tessera_stemmer INTERFACE)
target_include_directories(tessera_stemmer SYSTEM INTERFACE ${STEMMER_INCLUDE_DIR})
target_link_libraries(tessera_stemmer INTERFACE ${STEMMER_LIBRARY})
