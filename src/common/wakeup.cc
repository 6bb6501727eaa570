#include "common/wakeup.h"

namespace funcd {

void Wakeup::Notify() {
  if (notified_.exchange(true)) {
    return;  // a wake-up is already on its way
  }
  asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
}

asio::awaitable<bool> Wakeup::Wait(Time deadline) {
  if (notified_.exchange(false)) {
    co_return true;
  }
  timer_.expires_at(deadline);
  co_await timer_.async_wait(kUseAwaitableNoThrow);
  co_return notified_.exchange(false);
}

}  // namespace funcd
