#include "gateway/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "common/unique_fd.h"

namespace funcd::gateway {

namespace {

Result<std::string> ReadFileTrimmed(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Unexpected(ErrorCode::kNotFound, StrCat("cannot read ", path));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return std::string(TrimSpace(buffer.str()));
}

Result<void> WriteFileExclusive(const std::string& path, std::string_view contents) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return Unexpected(ErrorCode::kUnavailable,
                      StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  std::string data = StrCat(contents, "\n");
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()) ||
      ::fsync(fd.get()) != 0) {
    return Unexpected(ErrorCode::kUnavailable,
                      StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return Ok();
}

Result<std::string> RandomPassword(size_t length) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return Unexpected(ErrorCode::kUnavailable, "cannot open /dev/urandom");
  }
  std::string out;
  while (out.size() < length) {
    unsigned char bytes[64];
    ssize_t n = ::read(fd.get(), bytes, sizeof(bytes));
    if (n <= 0) {
      return Unexpected(ErrorCode::kUnavailable, "cannot read /dev/urandom");
    }
    for (ssize_t i = 0; i < n && out.size() < length; ++i) {
      if (bytes[i] < 248) {  // 248 = 4 * 62: no modulo bias
        out.push_back(kAlphabet[bytes[i] % kAlphabet.size()]);
      }
    }
  }
  return out;
}

}  // namespace

Result<Credentials> LoadOrCreateCredentials(const std::string& secrets_dir, bool* created) {
  *created = false;
  const std::string user_path = secrets_dir + "/basic-auth-user";
  const std::string password_path = secrets_dir + "/basic-auth-password";
  if (::access(user_path.c_str(), F_OK) != 0 && ::access(password_path.c_str(), F_OK) != 0) {
    ::mkdir(secrets_dir.c_str(), 0700);
    FUNCD_ASSIGN_OR_RETURN(std::string password, RandomPassword(40));
    FUNCD_RETURN_IF_ERROR(WriteFileExclusive(user_path, "admin"));
    FUNCD_RETURN_IF_ERROR(WriteFileExclusive(password_path, password));
    *created = true;
  }
  Credentials credentials;
  auto user = ReadFileTrimmed(user_path);
  auto password = ReadFileTrimmed(password_path);
  if (!user || !password) {
    return Unexpected(
        ErrorCode::kUnavailable,
        StrCat("basic auth is on but ", !user ? user_path : password_path, " cannot be read"));
  }
  credentials.user = std::move(*user);
  credentials.password = std::move(*password);
  if (credentials.user.empty() || credentials.password.empty()) {
    return Unexpected(ErrorCode::kUnavailable, StrCat("empty credentials in ", secrets_dir));
  }
  return credentials;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length may leak; the contents do not.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool CheckBasicAuth(std::string_view authorization, const Credentials& expected) {
  authorization = TrimSpace(authorization);
  if (authorization.size() < 6 || !EqualsIgnoreCase(authorization.substr(0, 6), "basic ")) {
    return false;
  }
  auto decoded = Base64Decode(TrimSpace(authorization.substr(6)));
  if (!decoded) {
    return false;
  }
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) {
    return false;
  }
  std::string_view user = std::string_view(*decoded).substr(0, colon);
  std::string_view password = std::string_view(*decoded).substr(colon + 1);
  const bool user_ok = user == expected.user;
  const bool password_ok = ConstantTimeEquals(password, expected.password);
  return user_ok && password_ok;
}

}  // namespace funcd::gateway
