"""Static look-up tables: site pages, campaigns, texts.

Events carry small integer codes; the writers turn codes into strings with
these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

SITE = "https://shop.example.com"

CATEGORIES = ("sneakers", "boots", "jackets", "bags", "hoodies", "accessories", "outdoor", "sale")
BLOG = (
    "autumn-style-guide", "how-to-clean-sneakers", "waterproof-boots-tested", "capsule-wardrobe",
    "sizing-guide", "our-sustainability-report", "trail-running-basics", "gift-guide",
)
_ADJ = ("Trail", "Urban", "Classic", "Storm", "Cloud", "Summit", "Harbor", "Nordic", "Metro", "Canyon")
_ITEM = ("Runner", "Boot", "Parka", "Backpack", "Hoodie", "Beanie")
PRODUCTS = tuple(f"{a} {i}" for i in _ITEM for a in _ADJ)  # 60 products
SEARCH_TERMS = (
    "waterproof boots", "running shoes", "winter jacket", "rain jacket", "backpack",
    "hoodie", "gift card", "size guide", "sale", "leather boots",
)

# page table: (path, title); codes are positions
PAGE_HOME = 0
PAGE_CATEGORY0 = 1
PAGE_BLOG0 = PAGE_CATEGORY0 + len(CATEGORIES)
PAGE_PRODUCT0 = PAGE_BLOG0 + len(BLOG)
PAGE_SEARCH0 = PAGE_PRODUCT0 + len(PRODUCTS)
_fixed = (
    ("/cart", "Your cart"),
    ("/checkout", "Checkout"),
    ("/checkout/shipping", "Checkout: shipping"),
    ("/checkout/payment", "Checkout: payment"),
    ("/checkout/confirmation", "Thank you for your order"),
    ("/account/signup", "Create an account"),
    ("/account/login", "Sign in"),
    ("/newsletter", "Newsletter"),
    ("/account/refer", "Refer a friend"),
    ("/account/orders", "Your orders"),
)
PAGE_CART = PAGE_SEARCH0 + len(SEARCH_TERMS)
(PAGE_CHECKOUT, PAGE_SHIPPING, PAGE_PAYMENT, PAGE_CONFIRM, PAGE_SIGNUP, PAGE_LOGIN,
 PAGE_NEWSLETTER, PAGE_REFER, PAGE_ORDERS) = range(PAGE_CART + 1, PAGE_CART + len(_fixed))


def _sku(i: int) -> str:
    return f"sku-{1001 + i}"


PAGES: tuple[tuple[str, str], ...] = (
    (("/", "Northwind Outfitters | Outdoor and city wear"),)
    + tuple((f"/c/{c}", f"{c.capitalize()} | Northwind Outfitters") for c in CATEGORIES)
    + tuple((f"/blog/{b}", f"{b.replace('-', ' ').capitalize()} | Northwind Journal") for b in BLOG)
    + tuple((f"/p/{_sku(i)}", f"{p} | Northwind Outfitters") for i, p in enumerate(PRODUCTS))
    + tuple((f"/search?q={t.replace(' ', '+')}", f"Search: {t}") for t in SEARCH_TERMS)
    + _fixed
)
PAGE_URLS = tuple(SITE + p for p, _ in PAGES)
PAGE_TITLES = tuple(t for _, t in PAGES)
SKUS = tuple(_sku(i) for i in range(len(PRODUCTS)))

# external referrers follow the pages in the referrer code space
EXTERNAL_REFERRERS = ("https://www.google.com/", "https://l.instagram.com/", "https://l.facebook.com/")
REFERRERS = PAGE_URLS + EXTERNAL_REFERRERS
REF_GOOGLE, REF_INSTAGRAM, REF_FACEBOOK = range(len(PAGE_URLS), len(PAGE_URLS) + 3)

# traffic sources of a visit
SRC_DIRECT, SRC_CPC, SRC_ORGANIC, SRC_NEWSLETTER, SRC_INSTAGRAM, SRC_FACEBOOK = range(6)
SRC_P = (0.34, 0.24, 0.12, 0.12, 0.10, 0.08)
CPC_CAMPAIGNS = ("brand_search", "generic_boots", "autumn_sale")
INSTAGRAM_CAMPAIGNS = ("autumn_launch", "influencer_mia")
FACEBOOK_CAMPAIGNS = ("retargeting_q4",)

EMAIL_THEMES = (
    "autumn-sale", "new-arrivals", "weekly-picks", "loyalty-points", "style-guide",
    "flash-sale", "gift-ideas", "back-in-stock", "outdoor-week", "members-preview",
)
TRIGGERED_CAMPAIGNS = ("cmp-welcome", "cmp-browse-reminder", "cmp-order-followup")
BOUNCE_REASONS = (
    "550 5.1.1 The email account that you tried to reach does not exist",
    "552 5.2.2 Mailbox full",
    "554 5.7.1 Message rejected as spam",
    "550 5.4.1 Recipient address rejected: Access denied",
)
DROP_REASON = len(BOUNCE_REASONS)  # reason code of a dropped message
REASONS = BOUNCE_REASONS + ("Bounced Address",)


@dataclass(frozen=True)
class Campaigns:
    """Email campaigns of a run: names, send days, and the planted one."""

    names: tuple[str, ...]  # campaign_id strings; broadcasts first, then triggered
    broadcast_days: tuple[int, ...]
    planted: int  # index of the high-bounce campaign

    @property
    def n_broadcast(self) -> int:
        return len(self.broadcast_days)

    @property
    def welcome(self) -> int:
        return self.n_broadcast

    @property
    def browse(self) -> int:
        return self.n_broadcast + 1

    @property
    def followup(self) -> int:
        return self.n_broadcast + 2


def make_campaigns(days: int, pain_days: int) -> Campaigns:
    bdays = tuple(range(0, days, 3))
    names = []
    for k in range(len(bdays)):
        theme = EMAIL_THEMES[k % len(EMAIL_THEMES)]
        rnd = k // len(EMAIL_THEMES)
        names.append(f"cmp-{theme}" + (f"-{rnd + 1}" if rnd else ""))
    late = [k for k, d in enumerate(bdays) if d >= days - pain_days]
    planted = late[0] if late else len(bdays) - 1
    return Campaigns(names=tuple(names) + TRIGGERED_CAMPAIGNS, broadcast_days=bdays, planted=planted)


def utm_table(campaigns: Campaigns) -> tuple[tuple[str, str, str], ...]:
    """(utm_source, utm_medium, utm_campaign) rows; newsletter rows follow broadcasts."""
    rows = [("google", "cpc", c) for c in CPC_CAMPAIGNS]
    rows += [("instagram", "social", c) for c in INSTAGRAM_CAMPAIGNS]
    rows += [("facebook", "paid_social", c) for c in FACEBOOK_CAMPAIGNS]
    rows += [("newsletter", "email", n.removeprefix("cmp-")) for n in campaigns.names[: campaigns.n_broadcast]]
    return tuple(rows)


UTM_CPC0 = 0
UTM_INSTAGRAM0 = len(CPC_CAMPAIGNS)
UTM_FACEBOOK0 = UTM_INSTAGRAM0 + len(INSTAGRAM_CAMPAIGNS)
UTM_NEWSLETTER0 = UTM_FACEBOOK0 + len(FACEBOOK_CAMPAIGNS)

# social texts by sentiment bucket
TEXT_POSITIVE = (
    "Love my new boots, best purchase this year!",
    "Great service, thanks team",
    "The parka is amazing, warm and light",
    "Fast delivery and great quality, recommended",
    "Obsessed with this hoodie",
    "Five stars, would buy again",
)
TEXT_NEUTRAL = (
    "Does this come in size 44?",
    "When is the next sale?",
    "Is shipping to Sweden free?",
    "Which jacket is better for rain, the Storm or the Summit?",
    "Any restock planned for the Trail Runner?",
)
TEXT_NEGATIVE = (
    "My order still has not arrived, very disappointed",
    "Payment failed twice on my phone, annoying",
    "Worst customer service, nobody answers",
    "The sole came off after two weeks",
    "Refund still pending after 3 weeks, not ok",
)
TEXT_REPLY = (
    "Hi! Thanks for reaching out, we have sent you a DM.",
    "Sorry to hear that, our team is looking into it.",
    "Thanks for your message! Happy to help.",
)
TEXTS = TEXT_POSITIVE + TEXT_NEUTRAL + TEXT_NEGATIVE + TEXT_REPLY
TEXT_POS0 = 0
TEXT_NEU0 = len(TEXT_POSITIVE)
TEXT_NEG0 = TEXT_NEU0 + len(TEXT_NEUTRAL)
TEXT_REPLY0 = TEXT_NEG0 + len(TEXT_NEGATIVE)
