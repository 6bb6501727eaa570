#include "http/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include "common/strings.h"

namespace funcd::http {

// One per io_context: a list of the connections with a deadline, swept by a timer that runs
// only while the list is non-empty.
class DeadlineService final : public asio::execution_context::service {
 public:
  using key_type = DeadlineService;
  static inline asio::execution_context::id id;

  explicit DeadlineService(asio::execution_context& context)
      : asio::execution_context::service(context),
        timer_(static_cast<asio::io_context&>(context)) {}

  void Add(Connection* c) {
    c->next_ = head_;
    c->prev_ = nullptr;
    if (head_ != nullptr) {
      head_->prev_ = c;
    }
    head_ = c;
    c->service_ = this;
    if (!ticking_) {
      ticking_ = true;
      Schedule();
    }
  }

  void Remove(Connection* c) {
    if (c->prev_ != nullptr) {
      c->prev_->next_ = c->next_;
    } else if (head_ == c) {
      head_ = c->next_;
    }
    if (c->next_ != nullptr) {
      c->next_->prev_ = c->prev_;
    }
    c->prev_ = c->next_ = nullptr;
    c->service_ = nullptr;
  }

  void shutdown() override {
    while (head_ != nullptr) {
      Remove(head_);
    }
    error_code ignored;
    timer_.cancel();
  }

 private:
  void Schedule() {
    timer_.expires_after(kDeadlineResolution);
    timer_.async_wait([this](const error_code& ec) {
      if (ec) {
        ticking_ = false;
        return;
      }
      Sweep();
    });
  }

  void Sweep() {
    if (head_ == nullptr) {
      ticking_ = false;
      return;
    }
    const SteadyTime now = std::chrono::steady_clock::now();
    for (Connection* c = head_; c != nullptr;) {
      Connection* next = c->next_;
      if (c->deadline_ <= now) {
        Remove(c);  // OnDeadline may destroy nothing, but never leave an expired entry behind
        c->OnDeadline();
      }
      c = next;
    }
    Schedule();
  }

  asio::steady_timer timer_;
  Connection* head_ = nullptr;
  bool ticking_ = false;
};

namespace {
DeadlineService& ServiceFor(const asio::any_io_executor& executor) {
  return asio::use_service<DeadlineService>(asio::query(executor, asio::execution::context));
}
}  // namespace

Connection::Connection(Socket socket) : socket_(std::move(socket)) {}

Connection::~Connection() {
  if (service_ != nullptr) {
    service_->Remove(this);
  }
}

void Connection::ExpireAt(SteadyTime at) {
  deadline_ = at;
  expired_ = false;
  if (service_ == nullptr) {
    ServiceFor(socket_.get_executor()).Add(this);
  }
}

void Connection::ClearDeadline() {
  deadline_ = SteadyTime::max();
  expired_ = false;
  if (service_ != nullptr) {
    service_->Remove(this);
  }
}

void Connection::OnDeadline() {
  expired_ = true;
  error_code ignored;
  socket_.cancel(ignored);
}

Error Connection::TranslateError(const error_code& ec) const {
  if (expired_ || ec == asio::error::timed_out) {
    return Error{ErrorCode::kDeadlineExceeded, "deadline exceeded"};
  }
  if (ec == asio::error::operation_aborted) {
    return Error{ErrorCode::kCancelled, "operation cancelled"};
  }
  return Error{ErrorCode::kUnavailable, ec.message()};
}

asio::awaitable<Result<std::size_t>> Connection::ReadSome(std::size_t max_bytes) {
  if (expired_) {
    co_return Error{ErrorCode::kDeadlineExceeded, "deadline exceeded"};
  }
  std::size_t room = buffer_.capacity() - buffer_.size();
  std::size_t want = std::min(max_bytes, std::max<std::size_t>(room, 4096));
  auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(want), kUseAwaitableNoThrow);
  if (ec == asio::error::eof) {
    co_return std::size_t{0};
  }
  if (ec) {
    co_return TranslateError(ec);
  }
  buffer_.commit(n);
  co_return n;
}

asio::awaitable<Result<void>> Connection::Write(std::span<const asio::const_buffer> buffers) {
  if (expired_) {
    co_return Error{ErrorCode::kDeadlineExceeded, "deadline exceeded"};
  }
  auto [ec, n] = co_await asio::async_write(socket_, buffers, kUseAwaitableNoThrow);
  if (ec) {
    co_return TranslateError(ec);
  }
  co_return Ok();
}

asio::awaitable<Result<void>> Connection::Write(asio::const_buffer buffer) {
  // A coroutine of its own: the span must point at this frame's copy of `buffer`.
  co_return co_await Write(std::span<const asio::const_buffer>(&buffer, 1));
}

bool Connection::PeerClosed() {
  if (!socket_.is_open()) {
    return true;
  }
  pollfd p{socket_.native_handle(), POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) {
    return false;
  }
  if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
    return true;
  }
  char byte;
  return ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void Connection::ShutdownSend() {
  error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_send, ignored);
}

void Connection::Close() {
  error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
}

void Connection::QuickAck() {
  // Linux clears the flag again by itself; fails harmlessly on unix sockets.
  int one = 1;
  ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

void SetNoDelay(Socket& socket) {
  // Fails harmlessly (EOPNOTSUPP) on unix sockets.
  int one = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace funcd::http
