"""Realistic config mistakes, as teams make them, and the one line each must produce.

Each case edits a copy of the repository's real config. The line must start with
``error: <file>: <key>: `` and show the bad value; see test_config_corpus.py.
"""

from __future__ import annotations

from unit.config_corpus.edits import (
    CATALOG,
    DEV,
    PLATFORM,
    REVIEWS,
    Case,
    append,
    function,
    rename,
    replace,
    route,
    write,
)

LONG = "services/customerreviewsstore/service.yaml"
BOMB = (  # "billion laughs": 1 KB of YAML, 10**9 values once expanded
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{n}: &{n} [{','.join([f'*{p}'] * 10)}]\n"
              for p, n in zip("abcdefgh", "bcdefghi", strict=True))
)

YAML_CASES = {
    "unclosed flow list": Case((replace(CATALOG, "reads: [products]\n  products:",
                                        "reads: [products\n  products:"),),
                               "services/catalog/service.yaml: line 27, column", "invalid YAML"),
    "tab indentation": Case((replace(CATALOG, "    memory: 256\n    timeout: 5\n    reads",
                                     "    memory: 256\n\ttimeout: 5\n    reads"),),
                            "services/catalog/service.yaml: line 25, column 1: ", "'\\t'"),
    "duplicate key in a function": Case(
        (replace(CATALOG, "    memory: 256\n    timeout: 5\n    reads: [products]\n  products",
                 "    memory: 256\n    timeout: 5\n    memory: 1024\n    reads: [products]\n"
                 "  products"),),
        "services/catalog/service.yaml: line 26: ", "duplicate key 'memory'",
        ("first on line 24",)),
    "duplicate function": Case((function("search", "handler: products.handler"),),
                               "services/catalog/service.yaml: line 32: ",
                               "duplicate key 'search'"),
    "duplicate environment account": Case(
        (replace(CATALOG, '  prod: "310000000001"', '  prod: "310000000001"\n  dev: "2"'),),
        "services/catalog/service.yaml: line 10: ", "duplicate key 'dev'",
        ("first on line 8",)),
    "alias bomb": Case((write(PLATFORM, "name: archway\nhome_region: eu-west-1\n" + BOMB),),
                       "config/platform.yaml: line ", "aliases expand to more than"),
    "recursive alias": Case((append(PLATFORM, "loop: &loop [*loop]\n"),),
                            "config/platform.yaml: line 28: ", "recursive alias"),
    "undefined alias": Case((replace(CATALOG, "timeout: 5\n    reads",
                                     "timeout: *five\n    reads"),),
                            "services/catalog/service.yaml: line 25, column 14: ", "alias 'five'"),
    "deep nesting": Case((append(CATALOG, "extra: " + "[" * 200 + "]" * 200 + "\n"),),
                         "services/catalog/service.yaml: line 38: ", "nested more than 32"),
    "latin-1 file": Case((write(REVIEWS, "name: reviews\nowner: \xe9quipe-avis\n".encode(
                               "latin-1")),),
                         "services/reviews/service.yaml: line 2: ", "not UTF-8 (byte 0xe9)"),
    "control character": Case((replace(CATALOG, "owner: team-catalog",
                                       "owner: team-\x08catalog"),),
                              "services/catalog/service.yaml: line 4: ",
                              "control character U+0008"),
    "huge file": Case((append(CATALOG, "# " + "x" * 300_000 + "\n"),),
                      "services/catalog/service.yaml: ", "limited to 256 KB"),
    "two documents": Case((append(DEV, "---\nplatform_account: '1'\n"),),
                          "config/environments/dev.yaml: line 5, column 1: ",
                          "expected a single document"),
    "empty service file": Case((write(CATALOG, "# nothing yet\n"),),
                               "services/catalog/service.yaml: ", "must be a mapping",
                               ("got nothing",)),
    "service file is a list": Case((write(CATALOG, "- name: catalog\n"),),
                                   "services/catalog/service.yaml: ", "(got list)"),
    "octal-looking account id": Case(
        (replace(CATALOG, 'dev: "210000000001"', "dev: 012345670123"),),
        "services/catalog/service.yaml: accounts.dev: ", "012345670123",
        ("octal", "quote account ids")),
    "unquoted account id": Case(
        (replace(DEV, 'platform_account: "200000000000"', "platform_account: 200000000000"),),
        "config/environments/dev.yaml: platform_account: ", "200000000000",
        ("quote account ids",)),
    "norway read as false": Case((replace(PLATFORM, "geo_block: []", "geo_block: [NO, RU]"),),
                                 "config/platform.yaml: edge.waf.geo_block[0]: ", "NO",
                                 ("false", "quote country codes")),
    "owner yes read as true": Case((replace(CATALOG, "owner: team-catalog", "owner: yes"),),
                                   "services/catalog/service.yaml: owner: ", "yes",
                                   ("true",)),
    "service.yml extension": Case((rename(CATALOG, "services/catalog/service.yml"),),
                                  "services/catalog/service.yml: ", "'service.yaml'"),
    "environment .yml extension": Case(
        (rename("config/environments/prod.yaml", "config/environments/prod.yml"),),
        "config/environments/prod.yml: ", "'prod.yaml'"),
    "typo in an optional section": Case(
        (replace("config/environments/prod.yaml", "domain: {name:", "domain: {nmae:"),),
        "config/environments/prod.yaml: domain.nmae: ", "did you mean 'name'"),
    "typo in a function": Case((replace(CATALOG, "    memory: 256\n    timeout: 5\n    reads",
                                        "    memroy: 512\n    timeout: 5\n    reads"),),
                               "services/catalog/service.yaml: functions.search.memroy: ",
                               "did you mean 'memory'"),
    "typo at the top": Case((replace(CATALOG, "throttling:", "throttle:"),),
                            "services/catalog/service.yaml: throttle: ",
                            "did you mean 'throttling'"),
    "very long value": Case((replace(CATALOG, "runtime: python3.12",
                                     "runtime: python3.12" + "-x" * 500),),
                            "services/catalog/service.yaml: runtime: ", "(1012 chars)"),
}

NAME_CASES = {
    "environment with underscore and capitals": Case(
        (rename(DEV, "config/environments/staging_EU.yaml"),),
        "config/environments/staging_EU.yaml: ", "'staging_EU'", ("lowercase",)),
    "environment name too long for buckets": Case(
        (rename(DEV, "config/environments/integration-eu-central-1.yaml"),),
        "config/environments/integration-eu-central-1.yaml: ",
        "'archway-integration-eu-central-1-edge-logs-200000000000-eu-west-1'",
        ("S3 bucket", "(max 63)")),
    "environment named all": Case((rename(DEV, "config/environments/all.yaml"),),
                                  "config/environments/all.yaml: ", "'all' is reserved"),
    "environment named tooling": Case((rename(DEV, "config/environments/tooling.yaml"),),
                                      "config/environments/tooling.yaml: ",
                                      "'tooling' is reserved"),
    "function name too long": Case(
        (rename("services/reviews", "services/customerreviewsstore"),
         replace(LONG, "name: reviews", "name: customerreviewsstore"),
         replace(LONG, "functions:\n", "functions:\n  recompute-ratings-nightly-batch:\n"
                 "    handler: views.handler\n")),
        "services/customerreviewsstore/service.yaml: functions.recompute-ratings-nightly-batch: ",
        "'archway-local-customerreviewsstore-recompute-ratings-nightly-batch'",
        ("66 characters (max 64)", "Lambda function and IAM role")),
    "function with underscore": Case((function("re_index"),),
                                     "services/catalog/service.yaml: functions.re_index: ",
                                     "'re_index'", ("name must be lowercase",)),
    "table with capitals": Case((replace(CATALOG, "  products:\n    partition_key",
                                         "  Products:\n    partition_key"),),
                                "services/catalog/service.yaml: tables.Products: ",
                                "'Products'"),
    "service name with capitals": Case((replace(CATALOG, "name: catalog", "name: Catalog"),),
                                       "services/catalog/service.yaml: name: ", "'Catalog'"),
    "platform name too long": Case((replace(PLATFORM, "name: archway", "name: archwayplatform"),),
                                   "config/platform.yaml: name: ", "'archwayplatform'"),
    "function collides with access logs": Case(
        (function("api-access"),),
        "services/catalog/service.yaml: functions.api-access: ", "'ApiAccessLogs'",
        ("access log group",)),
    "routes differing by dash and underscore": Case(
        (route("/top-sellers"), route("/top_sellers")),
        "services/catalog/service.yaml: routes[3].path: ", "'/top_sellers'",
        ("routes[2].path '/top-sellers'", "ResourceApiCatalogTopSellers")),
    "routes differing by case": Case(
        (route("/Deals"), route("/deals")),
        "services/catalog/service.yaml: routes[3].path: ", "'/deals'", ("'/Deals'",)),
    "route split differently": Case(
        (route("/gift-cards/list"), route("/gift/cards-list")),
        "services/catalog/service.yaml: routes[3].path: ", "'/gift/cards-list'",
        ("'/gift-cards/list'",)),
    "literal segment collides with a parameter": Case(
        (route("/products/{id}/price"), route("/products/id-param")),
        "services/catalog/service.yaml: routes[3].path: ", "'/products/id-param'",
        ("ResourceApiCatalogProductsIdParam",)),
    "service folder and name differ": Case(
        (replace(REVIEWS, "name: reviews", "name: review"),),
        "services/reviews/service.yaml: name: ", "'review'"),
}

CASES = {**YAML_CASES, **NAME_CASES}
