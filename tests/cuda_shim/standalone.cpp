/* The shim as a program, for the sanitizer runs (a sanitized library is awkward to load into
 * Python): `standalone DIR` reads DIR/launch.txt, runs one launch and writes the arrays back.
 *
 * launch.txt:   kernel <name expression>
 *               launch <grid> <block> <shared bytes>
 *               array <type code> <bytes> <file in DIR>     (one line per argument, in order)
 *               scalar <type code> <value bytes in hex>
 * Each array is read into a heap buffer of exactly its size, so AddressSanitizer's redzones
 * catch a kernel that reads or writes past the end of any argument.
 */
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int shim_launch(const char *name, unsigned grid, unsigned threads, std::size_t bytes, int nargs,
                           void **args, const char **codes, char *error, std::size_t error_size);

struct Argument {
    std::string code, file;
    std::size_t bytes = 0;
    unsigned char *data = nullptr;
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: standalone DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    std::ifstream manifest(dir + "/launch.txt");
    std::string line, kernel;
    unsigned grid = 0, threads = 0;
    std::size_t shared_bytes = 0;
    std::vector<Argument> arguments;
    while (std::getline(manifest, line)) {
        std::istringstream words(line);
        std::string what;
        words >> what;
        if (what == "kernel") {
            std::getline(words >> std::ws, kernel);
        } else if (what == "launch") {
            words >> grid >> threads >> shared_bytes;
        } else if (what == "array") {
            Argument a;
            words >> a.code >> a.bytes >> a.file;
            a.data = static_cast<unsigned char *>(std::malloc(a.bytes ? a.bytes : 1));
            std::ifstream in(dir + "/" + a.file, std::ios::binary);
            in.read(reinterpret_cast<char *>(a.data), static_cast<std::streamsize>(a.bytes));
            if (!in) {
                std::fprintf(stderr, "cannot read %s\n", a.file.c_str());
                return 2;
            }
            arguments.push_back(a);
        } else if (what == "scalar") {
            Argument a;
            std::string hex;
            words >> a.code >> hex;
            a.bytes = hex.size() / 2;
            a.data = static_cast<unsigned char *>(std::malloc(a.bytes));
            for (std::size_t i = 0; i < a.bytes; i++)
                a.data[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
            arguments.push_back(a);
        }
    }
    std::vector<void *> args;
    std::vector<const char *> codes;
    std::vector<void *> pointers(arguments.size());
    for (std::size_t i = 0; i < arguments.size(); i++) {
        Argument &a = arguments[i];
        if (a.file.empty()) { /* a scalar: the kernel's parameter is its bytes */
            args.push_back(a.data);
        } else { /* an array: the kernel's parameter is a pointer to it */
            pointers[i] = a.data;
            args.push_back(&pointers[i]);
        }
        codes.push_back(a.code.c_str());
    }
    char error[512] = "";
    const int rc = shim_launch(kernel.c_str(), grid, threads, shared_bytes, static_cast<int>(args.size()),
                               args.data(), codes.data(), error, sizeof error);
    if (rc != 0) {
        std::fprintf(stderr, "shim_launch: %s\n", error);
        return 3;
    }
    for (Argument &a : arguments) {
        if (!a.file.empty()) {
            std::ofstream out(dir + "/" + a.file, std::ios::binary);
            out.write(reinterpret_cast<const char *>(a.data), static_cast<std::streamsize>(a.bytes));
        }
        std::free(a.data);
    }
    return 0;
}
