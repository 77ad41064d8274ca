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
find_package(spdlog CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)

pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
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

# libstemmer (Snowball) ships no CMake or pkg-config file.
find_library(STEMMER_LIBRARY stemmer REQUIRED)
find_path(STEMMER_INCLUDE_DIR libstemmer.h REQUIRED)
add_library(tessera_stemmer INTERFACE)
target_include_directories(tessera_stemmer SYSTEM INTERFACE ${STEMMER_INCLUDE_DIR})
target_link_libraries(tessera_stemmer INTERFACE ${STEMMER_LIBRARY})

# libtorch 1.13 (CPU) for the learned encoders. Link ${TORCH_LIBRARIES}, never
# include_directories(${TORCH_INCLUDE_DIRS}): through the imported target its headers are system
# headers, so their warnings do not break -Werror.
#
# Caffe2's config file, which Torch's loads, links a target named `gflags`. RocksDB's config puts
# its own Findgflags module on the module path; that module defines only `gflags::gflags`, and
# Caffe2 then makes `gflags` with an empty location, which fails at generate time for
# RelWithDebInfo ("IMPORTED_LOCATION not set"). Defining `gflags` first avoids that.
if(NOT TARGET gflags)
  find_library(TESSERA_GFLAGS_LIBRARY gflags REQUIRED)
  add_library(gflags UNKNOWN IMPORTED)
  set_target_properties(gflags PROPERTIES IMPORTED_LOCATION "${TESSERA_GFLAGS_LIBRARY}")
endif()
find_package(Torch CONFIG REQUIRED)
