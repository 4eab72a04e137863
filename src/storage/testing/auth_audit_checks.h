// Behaviours of the AuthStore's audit trail (append_audit, find_audit, get_audit), written once
// and run by each back end's auth store test on a fresh, empty store. Test-only; GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/auth_store.h"

namespace ipa::storage::testing {

// Events about two patients over ten seconds; every field round-trips, queries filter by
// patient and time, pages go newest first by id, and get finds one event or answers 404.
inline void check_audit_queries(AuthStore& store, core::TimePoint t0) {
  std::vector<AuditEvent> batch;
  for (int i = 0; i < 10; ++i) {
    AuditEvent e;
    e.time = t0 + std::chrono::seconds(i);
    e.type = i == 0 ? "token" : "read";
    e.client_id = "app";
    e.username = "alice";
    e.patient = i % 2 == 0 ? "pat-1" : "pat-2";
    e.outcome = "success";
    e.detail = "patient category";
    e.resource_type = "Observation";
    e.resource_id = "obs-" + std::to_string(i);
    e.status = 200;
    e.node = "node-a";
    batch.push_back(e);
  }
  ASSERT_TRUE(store.append_audit(batch).ok());
  AuditQuery q;
  q.patient = "pat-1";
  q.limit = 100;
  auto mine = store.find_audit(q);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 5u);
  EXPECT_EQ((*mine)[0].resource_id, "obs-8");
  EXPECT_EQ((*mine)[4].resource_id, "obs-0");
  for (const AuditEvent& e : *mine) EXPECT_EQ(e.patient, "pat-1");
  const AuditEvent& last = (*mine)[0];
  EXPECT_GT(last.id, (*mine)[1].id);
  EXPECT_EQ(last.type, "read");
  EXPECT_EQ(last.client_id, "app");
  EXPECT_EQ(last.username, "alice");
  EXPECT_EQ(last.detail, "patient category");
  EXPECT_EQ(last.resource_type, "Observation");
  EXPECT_EQ(last.status, 200);
  EXPECT_EQ(last.node, "node-a");
  EXPECT_EQ(last.time, t0 + std::chrono::seconds(8));
  EXPECT_EQ(last.count, 1);
  EXPECT_EQ(last.last_time, last.time);  // one request: its own time

  // Time bounds are inclusive.
  q.since = t0 + std::chrono::seconds(2);
  q.until = t0 + std::chrono::seconds(6);
  auto window = store.find_audit(q);
  ASSERT_TRUE(window.ok());
  ASSERT_EQ(window->size(), 3u);
  EXPECT_EQ((*window)[0].resource_id, "obs-6");
  EXPECT_EQ((*window)[2].resource_id, "obs-2");

  // Pages: limit and before_id.
  AuditQuery page;
  page.patient = "pat-2";
  page.limit = 2;
  auto p1 = store.find_audit(page);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->size(), 2u);
  page.before_id = p1->back().id;
  auto p2 = store.find_audit(page);
  ASSERT_TRUE(p2.ok());
  ASSERT_EQ(p2->size(), 2u);
  EXPECT_EQ((*p1)[0].resource_id, "obs-9");
  EXPECT_EQ((*p2)[0].resource_id, "obs-5");
  EXPECT_EQ((*p2)[1].resource_id, "obs-3");

  // No patient: every event.
  AuditQuery any;
  any.limit = 100;
  auto all = store.find_audit(any);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 10u);

  auto one = store.get_audit(last.id);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->resource_id, "obs-8");
  auto none = store.get_audit(last.id + 1000);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().http_status, 404);

  // A folded event (audit/audit_log.h) keeps its ids, count and the last request's time.
  AuditEvent folded = batch[1];
  folded.time = t0 + std::chrono::seconds(20);
  folded.resource_id = "obs-1 obs-3 obs-5";
  folded.count = 7;
  folded.last_time = t0 + std::chrono::milliseconds(20'150);
  ASSERT_TRUE(store.append_audit({folded}).ok());
  AuditQuery newest;
  newest.limit = 1;
  auto got = store.find_audit(newest);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].resource_id, "obs-1 obs-3 obs-5");
  EXPECT_EQ((*got)[0].count, 7);
  EXPECT_EQ((*got)[0].time, t0 + std::chrono::seconds(20));
  EXPECT_EQ((*got)[0].last_time, t0 + std::chrono::milliseconds(20'150));
}

}  // namespace ipa::storage::testing
