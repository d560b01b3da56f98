/*
 * An in-memory store for Paho's publish commands, handed to Paho as a
 * "user persistence" where Paho is loaded at run time (the lean build frees
 * the commands itself, gateway/paho_lean.c, and creates its clients without
 * a persistence). Nothing is written anywhere and nothing outlives the
 * client: the outbox and the spool remain the gateway's only buffers.
 *
 * Why: Paho 1.3.12 leaks the topic and payload of every publish it holds
 * unwritten when its client is destroyed (MQTTAsync_destroy clears their
 * pointers before freeing the commands, MQTTAsync_NULLPublishCommands). With
 * a persistence, Paho moves a queued command's topic and payload into the
 * store at once and keeps only the key, which it frees with the command;
 * the store goes with the client (Persistence_close). So a client renewed
 * after a lost connection (publisher.c, renew_client) leaves nothing behind,
 * whatever it held. Each client gets its own store (Persistence_open), so a
 * new client never restores an old one's commands.
 */
#ifndef GW_PAHO_STORE_H
#define GW_PAHO_STORE_H

#include <MQTTClientPersistence.h>

#include "gateway/paho.h"

/* Fills p for MQTTCLIENT_PERSISTENCE_USER; api's allocator serves what
 * Paho frees. p must outlive every client created with it. */
void gw_paho_store_init(MQTTClient_persistence *p, const gw_paho_t *api);

#endif
