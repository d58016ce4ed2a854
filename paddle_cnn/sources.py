"""The source articles, cited by title / author / URL as printed in them (a field is empty where the article
prints none)."""
from __future__ import annotations

SOURCES = {
    "a000": {"title": "PaddlePaddle训练cifar10数据集的一个例子 (使用PaddlePaddle训练cifar10数据集)",
             "author": "Doi技术团队", "url": "https://blog.doiduoyi.com/authors/1584446358138"},
    "a001": {"title": "LeNet网络结构 / AlexNet 网络结构 (LeNet and AlexNet on MNIST, PyTorch code)",
             "author": "", "url": ""},
    "a002": {"title": "聊聊池化层和步长为2的卷积层 (华为云社区《对于池化层和步长为2的卷积层的一些思考》), 2023-03-22",
             "author": "李长安", "url": ""},
    "a003": {"title": "一文搞懂卷积网络之一(【动态图】从LeNet到GoogLeNet)", "author": "",
             "url": "https://aistudio.baidu.com/aistudio/projectdetail/601071"},
    "a004": {"title": "【深度学习系列】用PaddlePaddle和Tensorflow实现经典CNN网络Vgg", "author": "Charlotte77",
             "url": "http://www.cnblogs.com/charlotte77/"},
}


def cite(key: str, section: str = "") -> str:
    """One-line citation: 'title, author, url[, section]'."""
    s = SOURCES[key]
    parts = [s["title"]] + [s[k] for k in ("author", "url") if s[k]] + ([section] if section else [])
    return ", ".join(parts)


def article_of(source: str) -> str:
    """The key of the article a citation (as cite() writes it) names, or '' for none."""
    return next((k for k, s in SOURCES.items() if source.startswith(s["title"])), "")


def short(source: str) -> str:
    """'article 00N, section' for a citation cite() wrote (tables name the article once in full, elsewhere)."""
    key = article_of(source)
    if not key:
        return source
    rest = source[len(cite(key)):].lstrip(", ")
    return f"article {key[1:]}" + (f", {rest}" if rest else "")
