#pragma once

// libnats, the NATS client (with JetStream), opened on first use (common/lazy_library.h): the
// JetStream queue (queue/jetstream/) and the NATS trigger (triggers/nats/) call Load() when
// they start, so that a gateway using neither maps neither libnats nor the libssl, libcrypto
// and libprotobuf-c it depends on.

#include <nats/nats.h>

#include "common/lazy_library.h"

// Every function of libnats that funcd calls; Load() resolves them all. A new call needs its
// name here.
#define FUNCD_LIBNATS_FUNCTIONS(X)        \
  X(jsConsumerConfig_Init)                \
  X(jsConsumerInfo_Destroy)               \
  X(jsCtx_Destroy)                        \
  X(jsMsgMetaData_Destroy)                \
  X(jsOptions_Init)                       \
  X(jsPubOptions_Init)                    \
  X(jsStreamConfig_Init)                  \
  X(jsStreamInfo_Destroy)                 \
  X(jsSubOptions_Init)                    \
  X(js_AddConsumer)                       \
  X(js_AddStream)                         \
  X(js_CreateKeyValue)                    \
  X(js_DeleteMsg)                         \
  X(js_GetConsumerInfo)                   \
  X(js_GetMsg)                            \
  X(js_GetStreamInfo)                     \
  X(js_KeyValue)                          \
  X(js_Publish)                           \
  X(js_PublishMsgAsync)                   \
  X(js_PullSubscribe)                     \
  X(js_UpdateStream)                      \
  X(kvConfig_Init)                        \
  X(kvEntry_Destroy)                      \
  X(kvEntry_Revision)                     \
  X(kvEntry_Value)                        \
  X(kvEntry_ValueLen)                     \
  X(kvStore_Delete)                       \
  X(kvStore_Destroy)                      \
  X(kvStore_Get)                          \
  X(kvStore_Put)                          \
  X(kvStore_Update)                       \
  X(natsConnection_Close)                 \
  X(natsConnection_Connect)               \
  X(natsConnection_Destroy)               \
  X(natsConnection_Flush)                 \
  X(natsConnection_FlushTimeout)          \
  X(natsConnection_GetMaxPayload)         \
  X(natsConnection_IsClosed)              \
  X(natsConnection_JetStream)             \
  X(natsConnection_Publish)               \
  X(natsConnection_PublishMsg)            \
  X(natsConnection_QueueSubscribe)        \
  X(natsConnection_Status)                \
  X(natsMsgHeader_Get)                    \
  X(natsMsgHeader_Keys)                   \
  X(natsMsgHeader_Set)                    \
  X(natsMsgHeader_Values)                 \
  X(natsMsgList_Destroy)                  \
  X(natsMsg_Ack)                          \
  X(natsMsg_Create)                       \
  X(natsMsg_Destroy)                      \
  X(natsMsg_GetData)                      \
  X(natsMsg_GetDataLength)                \
  X(natsMsg_GetMetaData)                  \
  X(natsMsg_GetReply)                     \
  X(natsMsg_GetSubject)                   \
  X(natsMsg_InProgress)                   \
  X(natsMsg_Nak)                          \
  X(natsMsg_NakWithDelay)                 \
  X(natsMsg_Term)                         \
  X(natsOptions_Create)                   \
  X(natsOptions_Destroy)                  \
  X(natsOptions_SetClosedCB)              \
  X(natsOptions_SetDisconnectedCB)        \
  X(natsOptions_SetErrorHandler)          \
  X(natsOptions_SetMaxReconnect)          \
  X(natsOptions_SetName)                  \
  X(natsOptions_SetReconnectWait)         \
  X(natsOptions_SetReconnectedCB)         \
  X(natsOptions_SetRetryOnFailedConnect)  \
  X(natsOptions_SetURL)                   \
  X(natsOptions_UseGlobalMessageDelivery) \
  X(natsStatus_GetText)                   \
  X(natsSubscription_Destroy)             \
  X(natsSubscription_Fetch)               \
  X(natsSubscription_GetSubject)          \
  X(natsSubscription_SetOnCompleteCB)     \
  X(natsSubscription_Unsubscribe)         \
  X(nats_GetLastError)

namespace funcd {
// Defined in common/lazy_libraries.cc with the soname found at configure time.
extern LazyLibrary libnats;
}  // namespace funcd

#define FUNCD_LIBNATS_FUNCTION_(name) FUNCD_LAZY_FUNCTION(::funcd::libnats, name)
FUNCD_LIBNATS_FUNCTIONS(FUNCD_LIBNATS_FUNCTION_)
