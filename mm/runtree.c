/*
 * runtree.c - where is there a run of N free physical pages?
 *
 * The PFN database keeps free pages on lists, which makes taking or giving
 * back one page O(1) but says nothing about which pages are neighbours.
 * MmAllocateContiguousMemorySpecifyCache needs exactly that: the lowest run
 * of Count free pages inside [Low, High] that does not cross a boundary.
 * This file answers it without scanning. The PFN database mirrors every
 * free/in-use change here (MiRunTreeSetFree/SetUsed) and asks MiRunTreeFind.
 *
 * Layout. A bitmap holds one bit per page, set when the page is free. Its
 * 64-bit words are the leaves of a complete binary tree ("segment tree")
 * stored heap-style: node 1 is the root, node N has children 2N and 2N+1,
 * and node LeafCount+W is the leaf for word W. Only internal nodes are
 * stored; a leaf's summary is computed from its word with bit operations.
 * LeafCount is WordCount rounded up to a power of two so every internal node
 * covers exactly two equal halves; leaves past the bitmap, and bits past
 * PageCount in the last word, are in use forever.
 *
 * Invariant: every internal node holds, for the pages it covers,
 *   Longest - the longest free run,
 *   Prefix  - the free run that starts at its first page,
 *   Suffix  - the free run that ends at its last page,
 * which follow from the two children (MiCombine). So a node with
 * Longest < Count holds no answer and is skipped in O(1), and a run
 * straddling two subtrees is the left one's Suffix + the right one's Prefix.
 *
 * Counts are ULONG: PageCount is at most 2^32-1, and since the padding is in
 * use no free run can be longer than that.
 */
#include "../kernel/ke/ke.h"     /* LAB_TODO, in a stripped lab tree */
#include "runtree.h"

#define MI_WORD_BITS 64

static ULONG MiPopCount64(ULONG64 X)
{
    /* SWAR popcount: __builtin_popcountll may become a libgcc call. */
    X = X - ((X >> 1) & 0x5555555555555555ULL);
    X = (X & 0x3333333333333333ULL) + ((X >> 2) & 0x3333333333333333ULL);
    X = (X + (X >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (ULONG)((X * 0x0101010101010101ULL) >> 56);
}

/* Longest run of set bits in X, in O(log 64) steps. */
static ULONG MiLongestInWord(ULONG64 X)
{
    ULONG64 Runs[6];    /* Runs[K] bit i: bits i .. i+2^K-1 of X all set */
    ULONG64 Starts, Try;
    ULONG K, Length;
    LONG J;

    if (X == ~0ULL)
        return MI_WORD_BITS;
    if (X == 0)
        return 0;
    /* Double the run length while some run is that long: 2^K <= answer < 2^(K+1). */
    Runs[0] = X;
    K = 0;
    while (K < 5 && (Runs[K] & (Runs[K] >> (1u << K))) != 0) {
        Runs[K + 1] = Runs[K] & (Runs[K] >> (1u << K));
        K++;
    }
    /* Then add the lower powers greedily, keeping the starts of runs >= Length. */
    Starts = Runs[K];
    Length = 1u << K;
    for (J = (LONG)K - 1; J >= 0; J--) {
        Try = Starts & (Runs[J] >> Length);
        if (Try != 0) {
            Starts = Try;
            Length += 1u << J;
        }
    }
    return Length;
}

/* Lowest bit index where X has Count (1..64) consecutive set bits. The caller
   knows there is one. */
static ULONG MiFirstRunInWord(ULONG64 X, ULONG64 Count)
{
    ULONG64 Have = 1, Step;

    /* Invariant: bit i of X is set iff bits i .. i+Have-1 were all set. */
    while (Have < Count) {
        Step = Count - Have < Have ? Count - Have : Have;
        X &= X >> Step;
        Have += Step;
    }
    return (ULONG)__builtin_ctzll(X);
}

static MI_RUN_NODE MiSummarizeWord(ULONG64 X)
{
    MI_RUN_NODE Sum;

    Sum.Prefix = X == ~0ULL ? MI_WORD_BITS : (ULONG)__builtin_ctzll(~X);
    Sum.Suffix = X == ~0ULL ? MI_WORD_BITS : (ULONG)__builtin_clzll(~X);
    Sum.Longest = MiLongestInWord(X);
    return Sum;
}

/* Bits of a leaf; leaves beyond the bitmap are padding, always in use. */
static ULONG64 MiLeafBits(PMI_RUN_TREE Tree, ULONG Word)
{
    return Word < Tree->WordCount ? Tree->Bitmap[Word] : 0;
}

static MI_RUN_NODE MiNodeSummary(PMI_RUN_TREE Tree, ULONG Node)
{
    if (Node >= Tree->LeafCount)
        return MiSummarizeWord(MiLeafBits(Tree, Node - Tree->LeafCount));
    return Tree->Nodes[Node];
}

/* Summary of two adjacent spans of HalfSpan pages each. (A stripped lab
   tree does not call it until the student does: hence "unused".) */
static __attribute__((unused)) MI_RUN_NODE MiCombine(MI_RUN_NODE Left, MI_RUN_NODE Right,
                                                     ULONG64 HalfSpan)
{
    MI_RUN_NODE Sum;
    ULONG64 Middle;

    /* LAB runtree: BEGIN - Longest, Prefix and Suffix of Left+Right; a run may straddle the middle */
    Middle = (ULONG64)Left.Suffix + Right.Prefix;

    Sum.Longest = Left.Longest > Right.Longest ? Left.Longest : Right.Longest;
    if (Middle > Sum.Longest)
        Sum.Longest = (ULONG)Middle;
    Sum.Prefix = Left.Prefix == HalfSpan ? (ULONG)(HalfSpan + Right.Prefix) : Left.Prefix;
    Sum.Suffix = Right.Suffix == HalfSpan ? (ULONG)(HalfSpan + Left.Suffix) : Right.Suffix;
    return Sum;
    /* LAB runtree: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(runtree);
    UNREFERENCED_PARAMETER(Left);
    UNREFERENCED_PARAMETER(Right);
    UNREFERENCED_PARAMETER(HalfSpan);
    UNREFERENCED_PARAMETER(Middle);
    Sum = (MI_RUN_NODE){0, 0, 0};
    return Sum;
#endif
    /* LAB runtree: END */
}

/*
 * Lab fallback (tests/labs/runtree.md): Node's summary as a left-to-right
 * fold over the pieces it is made of (here its two children, HalfSpan
 * pages each), the way one would scan their pages one run at a time. A
 * stripped tree boots on it; the student writes MiCombine instead.
 */
static __attribute__((unused)) MI_RUN_NODE MiLabFallbackSummary(PMI_RUN_TREE Tree, ULONG Node,
                                                                ULONG64 HalfSpan)
{
    MI_RUN_NODE Sum = {0, 0, 0}, Piece;
    ULONG64 Run = 0, Seen = 0;
    BOOLEAN AllFree = TRUE;

    for (ULONG Child = 2 * Node; Child <= 2 * Node + 1; Child++) {
        Piece = MiNodeSummary(Tree, Child);
        if (Piece.Longest == HalfSpan) {            /* wholly free: the run goes on */
            Run += HalfSpan;
        } else {
            if (Run + Piece.Prefix > Sum.Longest)
                Sum.Longest = (ULONG)(Run + Piece.Prefix);
            if (Piece.Longest > Sum.Longest)
                Sum.Longest = Piece.Longest;
            if (AllFree)
                Sum.Prefix = (ULONG)(Seen + Piece.Prefix);
            AllFree = FALSE;
            Run = Piece.Suffix;
        }
        Seen += HalfSpan;
    }
    if (Run > Sum.Longest)
        Sum.Longest = (ULONG)Run;
    Sum.Suffix = (ULONG)Run;
    if (AllFree)
        Sum.Prefix = (ULONG)Seen;
    return Sum;
}

static MI_RUN_NODE MiRecompute(PMI_RUN_TREE Tree, ULONG Node, ULONG64 HalfSpan)
{
    /* LAB runtree: BEGIN - Node's summary from its two children's (MiNodeSummary, MiCombine) */
    return MiCombine(MiNodeSummary(Tree, 2 * Node), MiNodeSummary(Tree, 2 * Node + 1),
                     HalfSpan);
    /* LAB runtree: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(runtree);
    return MiLabFallbackSummary(Tree, Node, HalfSpan);
#endif
    /* LAB runtree: END */
}

/* Words First..Last changed: recompute their ancestors, one level at a time,
   so a range costs (words touched) + log(LeafCount) node updates. */
static VOID MiUpdateAncestors(PMI_RUN_TREE Tree, ULONG First, ULONG Last)
{
    ULONG Low = (Tree->LeafCount + First) >> 1;
    ULONG High = (Tree->LeafCount + Last) >> 1;
    ULONG64 HalfSpan = MI_WORD_BITS;
    ULONG Node;

    while (Low >= 1) {
        for (Node = Low; Node <= High; Node++)
            Tree->Nodes[Node] = MiRecompute(Tree, Node, HalfSpan);
        Low >>= 1;
        High >>= 1;
        HalfSpan *= 2;
    }
}

static PFN_NUMBER MiClampPages(PFN_NUMBER PageCount)
{
    return PageCount > MI_RUN_MAX_PAGES ? MI_RUN_MAX_PAGES : PageCount;
}

static ULONG MiLeafCountFor(ULONG WordCount)
{
    ULONG Leaves = 1;

    while (Leaves < WordCount)
        Leaves *= 2;
    return Leaves;
}

SIZE_T MiRunTreeStorageSize(PFN_NUMBER PageCount)
{
    ULONG Words = (ULONG)((MiClampPages(PageCount) + MI_WORD_BITS - 1) / MI_WORD_BITS);
    SIZE_T Bytes = (SIZE_T)Words * sizeof(ULONG64) +
                   (SIZE_T)MiLeafCountFor(Words) * sizeof(MI_RUN_NODE);

    return (Bytes + 7) & ~(SIZE_T)7;
}

VOID MiRunTreeInitialize(PMI_RUN_TREE Tree, PVOID Storage, PFN_NUMBER PageCount)
{
    ULONG I;

    Tree->PageCount = MiClampPages(PageCount);
    Tree->WordCount = (ULONG)((Tree->PageCount + MI_WORD_BITS - 1) / MI_WORD_BITS);
    Tree->LeafCount = MiLeafCountFor(Tree->WordCount);
    Tree->Bitmap = (PULONG64)Storage;
    Tree->Nodes = (PMI_RUN_NODE)(Tree->Bitmap + Tree->WordCount);
    Tree->FreeCount = 0;
    Tree->Descents = 0;
    Tree->NodesVisited = 0;
    /* All in use: an all-zero bitmap, and all-zero summaries agree with it. */
    for (I = 0; I < Tree->WordCount; I++)
        Tree->Bitmap[I] = 0;
    for (I = 0; I < Tree->LeafCount; I++)
        Tree->Nodes[I] = (MI_RUN_NODE){0, 0, 0};
}

static VOID MiSetRange(PMI_RUN_TREE Tree, PFN_NUMBER Start, PFN_NUMBER Count, BOOLEAN Free)
{
    PFN_NUMBER End;
    ULONG First, Last, Word;
    ULONG64 Mask, Old;

    /* Never touch bits at or past PageCount: they must stay "in use". */
    if (Start >= Tree->PageCount || Count == 0)
        return;
    if (Count > Tree->PageCount - Start)
        Count = Tree->PageCount - Start;
    End = Start + Count;
    First = (ULONG)(Start / MI_WORD_BITS);
    Last = (ULONG)((End - 1) / MI_WORD_BITS);
    for (Word = First; Word <= Last; Word++) {
        Mask = ~0ULL;
        if (Word == First)
            Mask &= ~0ULL << (Start % MI_WORD_BITS);
        if (Word == Last && End % MI_WORD_BITS != 0)
            Mask &= ~0ULL >> (MI_WORD_BITS - End % MI_WORD_BITS);
        Old = Tree->Bitmap[Word];
        if (Free) {
            Tree->FreeCount += MiPopCount64(Mask & ~Old);
            Tree->Bitmap[Word] = Old | Mask;
        } else {
            Tree->FreeCount -= MiPopCount64(Mask & Old);
            Tree->Bitmap[Word] = Old & ~Mask;
        }
    }
    MiUpdateAncestors(Tree, First, Last);
}

VOID MiRunTreeSetFree(PMI_RUN_TREE Tree, PFN_NUMBER Start, PFN_NUMBER Count)
{
    MiSetRange(Tree, Start, Count, TRUE);
}

VOID MiRunTreeSetUsed(PMI_RUN_TREE Tree, PFN_NUMBER Start, PFN_NUMBER Count)
{
    MiSetRange(Tree, Start, Count, FALSE);
}

BOOLEAN MiRunTreeIsFree(PMI_RUN_TREE Tree, PFN_NUMBER Page)
{
    if (Page >= Tree->PageCount)
        return FALSE;
    return (Tree->Bitmap[Page / MI_WORD_BITS] >> (Page % MI_WORD_BITS)) & 1;
}

PFN_NUMBER MiRunTreeFreeCount(PMI_RUN_TREE Tree)
{
    return Tree->FreeCount;
}

PFN_NUMBER MiRunTreeLongestRun(PMI_RUN_TREE Tree)
{
    return MiNodeSummary(Tree, 1).Longest;
}

/*
 * One leaf of the descent. Pages below Low are masked off (treated as in
 * use); *Carry, the free run ending just before Base, is extended or reset.
 */
static PFN_NUMBER MiFindInLeaf(PMI_RUN_TREE Tree, ULONG Word, ULONG64 Base,
                               ULONG64 Count, ULONG64 Low, PULONG64 Carry)
{
    ULONG64 Bits = MiLeafBits(Tree, Word);
    MI_RUN_NODE Sum;

    if (Low > Base)
        Bits &= ~0ULL << (Low - Base);
    Sum = MiSummarizeWord(Bits);
    if (*Carry + Sum.Prefix >= Count)
        return Base - *Carry;
    if (Sum.Longest >= Count)
        return Base + MiFirstRunInWord(Bits, Count);
    *Carry = Sum.Prefix == MI_WORD_BITS ? *Carry + MI_WORD_BITS : Sum.Suffix;
    return MI_RUN_NONE;
}

/*
 * Leftmost Start >= Low with [Start, Start+Count) free, in the subtree Node
 * covering [Base, Base+Span). *Carry is the free run (pages >= Low only)
 * that ends at Base. If there is no answer ending inside this subtree,
 * returns MI_RUN_NONE and sets *Carry to the free run ending at Base+Span.
 *
 * Why it is O(log N): a subtree that lies wholly at or above Low is either
 * skipped in O(1) from its summary, or it certainly holds the answer, and
 * then the walk inside it looks at two children per level and enters one.
 * Only the subtrees that straddle Low - one per level, the path to Low's
 * leaf - are entered without that guarantee.
 */
static __attribute__((unused)) PFN_NUMBER MiFindInSubtree(PMI_RUN_TREE Tree, ULONG Node,
                                                          ULONG64 Base, ULONG64 Span,
                                                          ULONG64 Count, ULONG64 Low,
                                                          PULONG64 Carry)
{
    MI_RUN_NODE Sum;
    PFN_NUMBER Found;

    Tree->NodesVisited++;
    /* LAB runtree: BEGIN - skip what lies below Low; use the summary to skip or answer; else recurse left, then right */
    if (Base + Span <= Low) {
        *Carry = 0;     /* wholly below Low: nothing here can be used */
        return MI_RUN_NONE;
    }
    if (Node >= Tree->LeafCount)
        return MiFindInLeaf(Tree, Node - Tree->LeafCount, Base, Count, Low, Carry);
    if (Base >= Low) {
        Sum = Tree->Nodes[Node];
        if (*Carry + Sum.Prefix >= Count)
            return Base - *Carry;
        if (Sum.Longest < Count) {
            *Carry = Sum.Prefix == Span ? *Carry + Span : Sum.Suffix;
            return MI_RUN_NONE;
        }
    }
    Found = MiFindInSubtree(Tree, 2 * Node, Base, Span / 2, Count, Low, Carry);
    if (Found != MI_RUN_NONE)
        return Found;
    return MiFindInSubtree(Tree, 2 * Node + 1, Base + Span / 2, Span / 2, Count, Low, Carry);
    /* LAB runtree: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(runtree);
    UNREFERENCED_PARAMETER(Node);
    UNREFERENCED_PARAMETER(Base);
    UNREFERENCED_PARAMETER(Span);
    UNREFERENCED_PARAMETER(Count);
    UNREFERENCED_PARAMETER(Low);
    UNREFERENCED_PARAMETER(Carry);
    UNREFERENCED_PARAMETER(Sum);
    UNREFERENCED_PARAMETER(Found);
    return MI_RUN_NONE;
#endif
    /* LAB runtree: END */
}

/* Lab fallback: every leaf from Low's onwards, left to right - O(N / 64). */
static __attribute__((unused)) PFN_NUMBER MiLabFallbackFindFrom(PMI_RUN_TREE Tree,
                                                                ULONG64 Count, ULONG64 Low)
{
    ULONG64 Carry = 0;
    PFN_NUMBER Found;

    for (ULONG W = (ULONG)(Low / MI_WORD_BITS); W < Tree->WordCount; W++) {
        Tree->NodesVisited++;
        Found = MiFindInLeaf(Tree, W, (ULONG64)W * MI_WORD_BITS, Count, Low, &Carry);
        if (Found != MI_RUN_NONE)
            return Found;
    }
    return MI_RUN_NONE;
}

/* Leftmost Start >= Low with [Start, Start+Count) free, anywhere in the tree. */
static PFN_NUMBER MiFindFrom(PMI_RUN_TREE Tree, PFN_NUMBER Count, PFN_NUMBER Low)
{
    ULONG64 Carry = 0;

    Tree->Descents++;
    /* LAB runtree: BEGIN - one descent from the root (node 1, covering LeafCount words) */
    return MiFindInSubtree(Tree, 1, 0, (ULONG64)Tree->LeafCount * MI_WORD_BITS, Count, Low,
                           &Carry);
    /* LAB runtree: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(runtree);
    UNREFERENCED_PARAMETER(Carry);
    return MiLabFallbackFindFrom(Tree, Count, Low);
#endif
    /* LAB runtree: END */
}

PFN_NUMBER MiRunTreeFind(PMI_RUN_TREE Tree, PFN_NUMBER Count, PFN_NUMBER LowPage,
                         PFN_NUMBER HighPage, PFN_NUMBER BoundaryPages)
{
    PFN_NUMBER Start;

    if (Count == 0 || Tree->PageCount == 0)
        return MI_RUN_NONE;
    if (BoundaryPages != 0 &&
        ((BoundaryPages & (BoundaryPages - 1)) != 0 || Count > BoundaryPages))
        return MI_RUN_NONE;
    if (HighPage >= Tree->PageCount)
        HighPage = Tree->PageCount - 1;
    if (LowPage > HighPage || Count - 1 > HighPage - LowPage ||
        Count > MiRunTreeLongestRun(Tree))
        return MI_RUN_NONE;

    /* LAB runtree: BEGIN - leftmost fit from LowPage; past HighPage: none; crossing a boundary: skip to the next multiple */
    for (;;) {
        Start = MiFindFrom(Tree, Count, LowPage);
        /* The leftmost fit already ends too high: every other one does too. */
        if (Start == MI_RUN_NONE || Start > HighPage || Count - 1 > HighPage - Start)
            return MI_RUN_NONE;
        if (BoundaryPages == 0 || ((Start ^ (Start + Count - 1)) & ~(BoundaryPages - 1)) == 0)
            return Start;
        /* Crosses a multiple of BoundaryPages; so would any start before it. */
        LowPage = (Start | (BoundaryPages - 1)) + 1;
    }
    /* LAB runtree: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(runtree);
    /* Slow but correct: on a crossing, try again one page further. */
    for (;;) {
        Start = MiFindFrom(Tree, Count, LowPage);
        if (Start == MI_RUN_NONE || Start + Count - 1 > HighPage)
            return MI_RUN_NONE;
        if (BoundaryPages == 0 || Start / BoundaryPages == (Start + Count - 1) / BoundaryPages)
            return Start;
        LowPage = Start + 1;
    }
#endif
    /* LAB runtree: END */
}

BOOLEAN MiRunTreeVerify(PMI_RUN_TREE Tree)
{
    PFN_NUMBER Free = 0;
    ULONG64 HalfSpan = MI_WORD_BITS;
    ULONG Word, Node, LevelStart;
    MI_RUN_NODE Want, Have;

    for (Word = 0; Word < Tree->WordCount; Word++)
        Free += MiPopCount64(Tree->Bitmap[Word]);
    if (Free != Tree->FreeCount)
        return FALSE;
    /* Bits past PageCount in the last word must be in use. */
    if (Tree->PageCount % MI_WORD_BITS != 0 &&
        (Tree->Bitmap[Tree->WordCount - 1] >> (Tree->PageCount % MI_WORD_BITS)) != 0)
        return FALSE;
    /* Bottom-up: each node must equal the combination of its (checked) children. */
    for (LevelStart = Tree->LeafCount / 2; LevelStart >= 1; LevelStart /= 2) {
        for (Node = LevelStart; Node < 2 * LevelStart; Node++) {
            Want = MiRecompute(Tree, Node, HalfSpan);
            Have = Tree->Nodes[Node];
            if (Want.Longest != Have.Longest || Want.Prefix != Have.Prefix ||
                Want.Suffix != Have.Suffix)
                return FALSE;
        }
        HalfSpan *= 2;
    }
    return TRUE;
}
