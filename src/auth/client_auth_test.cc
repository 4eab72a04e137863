#include "auth/client_auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "auth/testing.h"
#include "jose/bytes.h"
#include "jose/jwks.h"
#include "jose/jws.h"

namespace ipa::auth {
namespace {

using std::chrono::seconds;

constexpr const char* kTokenUrl = "https://ehr.example.org/auth/token";
constexpr const char* kJwksUrl = "https://app.example/jwks.json";

class FakeFetcher : public JwksFetcher {
 public:
  core::Result<json::Value> fetch(std::string url) override {
    ++calls;
    if (url != kJwksUrl || fail) return core::unavailable("fetch failed");
    return jwks;
  }
  json::Value jwks;
  bool fail = false;
  std::atomic<int> calls{0};
};

jose::Key make_key(jose::Alg alg, const std::string& kid) {
  auto k = jose::Key::generate(alg);
  EXPECT_TRUE(k.ok());
  jose::Key key = std::move(k).value();
  key.set_kid(kid);
  return key;
}

json::Value jwks_of(const std::vector<const jose::Key*>& keys) {
  json::Value arr = json::Value::array();
  for (const jose::Key* k : keys) arr.push_back(k->public_jwk());
  json::Value out = json::Value::object();
  out.set("keys", std::move(arr));
  return out;
}

class ClientAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    es384_ = new jose::Key(make_key(jose::Alg::kES384, "es-1"));
    rs384_ = new jose::Key(make_key(jose::Alg::kRS384, "rs-1"));
    impostor_ = new jose::Key(make_key(jose::Alg::kES384, "es-1"));  // same kid, other key
  }
  static void TearDownTestSuite() {
    delete es384_;
    delete rs384_;
    delete impostor_;
  }

  void SetUp() override {
    store_ = testing::fresh_store(clock_);
    ASSERT_NE(store_, nullptr);
    fetcher_->jwks = jwks_of({rs384_});
    add_client("inline", storage::ClientType::kConfidentialAsymmetric,
               [](storage::Client& c) { c.jwks = json::write(jwks_of({es384_})); });
    add_client("by-url", storage::ClientType::kConfidentialAsymmetric,
               [](storage::Client& c) { c.jwks_uri = kJwksUrl; });
    add_client("sym", storage::ClientType::kConfidentialSymmetric,
               [](storage::Client& c) { c.secret_hash = client_secret_hash("s3cret"); });
    add_client("pub", storage::ClientType::kPublic, [](storage::Client&) {});
    ClientAuthConfig config;
    config.token_url = kTokenUrl;
    auth_ = std::make_unique<ClientAuthenticator>(config, store_, fetcher_, clock_);
  }

  template <typename F>
  void add_client(const std::string& id, storage::ClientType type, F edit) {
    storage::Client c;
    c.client_id = id;
    c.type = type;
    c.redirect_uris = {"https://app.example/cb"};
    edit(c);
    ASSERT_TRUE(store_->create_client(c).ok());
  }

  // A valid assertion for `client_id`; `edit` changes claims before signing.
  template <typename F>
  std::string assertion(const std::string& client_id, const jose::Key& key, jose::Alg alg, F edit) {
    json::Value p = json::Value::object();
    p.set("iss", json::Value::string(client_id));
    p.set("sub", json::Value::string(client_id));
    p.set("aud", json::Value::string(kTokenUrl));
    p.set("exp", json::Value::number(numeric_date(clock_->now() + seconds(240))));
    p.set("jti", json::Value::string("jti-" + std::to_string(++jti_)));
    edit(p);
    auto t = jose::sign_jwt(key, alg, p, "JWT");
    EXPECT_TRUE(t.ok());
    return t.ok() ? *t : std::string();
  }
  std::string assertion(const std::string& client_id, const jose::Key& key, jose::Alg alg) {
    return assertion(client_id, key, alg, [](json::Value&) {});
  }

  static int64_t numeric_date(core::TimePoint t) {
    return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
  }

  core::Result<storage::Client> check(const std::string& jwt) {
    return auth_->authenticate_assertion(kJwtBearerAssertionType, jwt);
  }

  static jose::Key* es384_;
  static jose::Key* rs384_;
  static jose::Key* impostor_;
  std::shared_ptr<testing::ManualClock> clock_ = std::make_shared<testing::ManualClock>();
  std::shared_ptr<storage::AuthStore> store_;
  std::shared_ptr<FakeFetcher> fetcher_ = std::make_shared<FakeFetcher>();
  std::unique_ptr<ClientAuthenticator> auth_;
  int jti_ = 0;
};

jose::Key* ClientAuthTest::es384_ = nullptr;
jose::Key* ClientAuthTest::rs384_ = nullptr;
jose::Key* ClientAuthTest::impostor_ = nullptr;

TEST_F(ClientAuthTest, AcceptsEs384InlineAndRs384ByUrl) {
  auto a = check(assertion("inline", *es384_, jose::Alg::kES384));
  ASSERT_TRUE(a.ok()) << a.error().diagnostics;
  EXPECT_EQ(a->client_id, "inline");
  auto b = check(assertion("by-url", *rs384_, jose::Alg::kRS384));
  ASSERT_TRUE(b.ok()) << b.error().diagnostics;
  EXPECT_EQ(fetcher_->calls, 1);
}

TEST_F(ClientAuthTest, RefusesBadAssertions) {
  struct Case {
    std::string name;
    std::string jwt;
  };
  auto set = [](const char* k, json::Value v) { return [k, v](json::Value& p) { p.set(k, v); }; };
  const int64_t now = numeric_date(clock_->now());
  std::vector<Case> cases = {
      {"wrong aud", assertion("inline", *es384_, jose::Alg::kES384,
                              set("aud", json::Value::string("https://other/token")))},
      {"exp 6 minutes ahead", assertion("inline", *es384_, jose::Alg::kES384,
                                        set("exp", json::Value::number(now + 6 * 60 + 61)))},
      {"expired",
       assertion("inline", *es384_, jose::Alg::kES384, set("exp", json::Value::number(now - 61)))},
      {"exp not a number",
       assertion("inline", *es384_, jose::Alg::kES384, set("exp", json::Value::string("soon")))},
      {"sub differs",
       assertion("inline", *es384_, jose::Alg::kES384, set("sub", json::Value::string("someone")))},
      {"no jti",
       assertion("inline", *es384_, jose::Alg::kES384, [](json::Value& p) { p.erase("jti"); })},
      {"unknown client", assertion("ghost", *es384_, jose::Alg::kES384)},
      {"public client", assertion("pub", *es384_, jose::Alg::kES384)},
      {"symmetric client", assertion("sym", *es384_, jose::Alg::kES384)},
      {"other key, same kid", assertion("inline", *impostor_, jose::Alg::kES384)},
      {"key of another client", assertion("inline", *rs384_, jose::Alg::kRS384)},
      {"not a JWS", "not.a.jws"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = check(c.jwt);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().http_status, 401);
  }
}

TEST_F(ClientAuthTest, RefusesRs256AndMissingKidAndWrongTyp) {
  jose::Key rs256 = make_key(jose::Alg::kRS256, "rs256");
  fetcher_->jwks = jwks_of({&rs256});
  EXPECT_EQ(check(assertion("by-url", rs256, jose::Alg::kRS256)).error().http_status, 401);

  jose::Key no_kid = make_key(jose::Alg::kES384, "");
  fetcher_->jwks = jwks_of({&no_kid});
  EXPECT_EQ(check(assertion("by-url", no_kid, jose::Alg::kES384)).error().http_status, 401);

  json::Value p = json::Value::object();
  p.set("iss", json::Value::string("inline"));
  p.set("sub", json::Value::string("inline"));
  p.set("aud", json::Value::string(kTokenUrl));
  p.set("exp", json::Value::number(numeric_date(clock_->now() + seconds(60))));
  p.set("jti", json::Value::string("typ-test"));
  auto wrong_typ = jose::sign_jwt(*es384_, jose::Alg::kES384, p, "at+jwt");
  ASSERT_TRUE(wrong_typ.ok());
  EXPECT_EQ(check(*wrong_typ).error().http_status, 401);
}

TEST_F(ClientAuthTest, ReplayedJtiRefused) {
  std::string jwt = assertion("inline", *es384_, jose::Alg::kES384);
  ASSERT_TRUE(check(jwt).ok());
  auto again = check(jwt);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().http_status, 401);
}

TEST_F(ClientAuthTest, ReplayRefusedUnderConcurrency) {
  std::string jwt = assertion("inline", *es384_, jose::Alg::kES384);
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { (check(jwt).ok() ? ok : refused)++; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(refused, 7);
}

TEST_F(ClientAuthTest, ForgedAssertionDoesNotBurnTheJti) {
  auto fixed = [](json::Value& p) { p.set("jti", json::Value::string("fixed")); };
  EXPECT_FALSE(check(assertion("inline", *impostor_, jose::Alg::kES384, fixed)).ok());
  EXPECT_TRUE(check(assertion("inline", *es384_, jose::Alg::kES384, fixed)).ok());
}

TEST_F(ClientAuthTest, WrongAssertionTypeIsBadRequest) {
  auto r =
      auth_->authenticate_assertion("urn:other", assertion("inline", *es384_, jose::Alg::kES384));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 400);
}

TEST_F(ClientAuthTest, FetchFailureIsInvalidClient) {
  fetcher_->fail = true;
  auto r = check(assertion("by-url", *rs384_, jose::Alg::kRS384));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().http_status, 401);
}

TEST_F(ClientAuthTest, JkuMustBeTheRegisteredUrl) {
  auto header_jwt = [&](const std::string& jku) {
    // sign_jwt writes no jku: build the JWS by hand around the key's signature.
    json::Value h = json::Value::object();
    h.set("alg", json::Value::string("RS384"));
    h.set("typ", json::Value::string("JWT"));
    h.set("kid", json::Value::string("rs-1"));
    h.set("jku", json::Value::string(jku));
    json::Value p = json::Value::object();
    p.set("iss", json::Value::string("by-url"));
    p.set("sub", json::Value::string("by-url"));
    p.set("aud", json::Value::string(kTokenUrl));
    p.set("exp", json::Value::number(numeric_date(clock_->now() + seconds(60))));
    p.set("jti", json::Value::string("jku-" + jku));
    std::string input =
        jose::base64url_encode(json::write(h)) + "." + jose::base64url_encode(json::write(p));
    auto sig = rs384_->sign(jose::Alg::kRS384, input);
    return input + "." + jose::base64url_encode(*sig);
  };
  EXPECT_TRUE(check(header_jwt(kJwksUrl)).ok());
  EXPECT_EQ(check(header_jwt("https://evil.example/jwks")).error().http_status, 401);
}

TEST_F(ClientAuthTest, ClientSecret) {
  auto ok = auth_->authenticate_secret("sym", "s3cret");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->client_id, "sym");
  EXPECT_EQ(auth_->authenticate_secret("sym", "wrong").error().http_status, 401);
  EXPECT_EQ(auth_->authenticate_secret("sym", "").error().http_status, 401);
  EXPECT_EQ(auth_->authenticate_secret("ghost", "s3cret").error().http_status, 401);
  EXPECT_EQ(auth_->authenticate_secret("pub", "").error().http_status, 401);
  EXPECT_EQ(auth_->authenticate_secret("inline", "x").error().http_status, 401);
  EXPECT_NE(client_secret_hash("s3cret"), "s3cret");
}

TEST_F(ClientAuthTest, PublicClient) {
  EXPECT_TRUE(auth_->identify_public("pub").ok());
  EXPECT_EQ(auth_->identify_public("sym").error().http_status, 401);  // S40
  EXPECT_EQ(auth_->identify_public("inline").error().http_status, 401);
  EXPECT_EQ(auth_->identify_public("ghost").error().http_status, 401);
  EXPECT_EQ(auth_->identify_public("").error().http_status, 401);
}

}  // namespace
}  // namespace ipa::auth
