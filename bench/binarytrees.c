/* binarytrees.c: allocates and walks many perfect binary trees (the
 * allocator benchmark), with malloc and free. A leaf has NULL children.
 * Usage: binarytrees [N]   (N defaults to 16) */
#include <stdio.h>
#include <stdlib.h>

typedef struct Node {
    struct Node *left, *right;
} Node;

static Node *make(int depth)
{
    Node *node = malloc(sizeof *node);
    if (!node) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    if (depth == 0) {
        node->left = node->right = NULL;
        return node;
    }
    node->left = make(depth - 1);
    node->right = make(depth - 1);
    return node;
}

static long check(const Node *node)
{
    if (!node->left)
        return 1;
    return 1 + check(node->left) + check(node->right);
}

static void release(Node *node)
{
    if (node->left) {
        release(node->left);
        release(node->right);
    }
    free(node);
}

/* Builds a tree, checks it and frees it. */
static long check_new(int depth)
{
    Node *tree = make(depth);
    long c = check(tree);
    release(tree);
    return c;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 16;
    int min_depth = 4;
    int max_depth = n > min_depth + 2 ? n : min_depth + 2;
    int stretch = max_depth + 1;
    printf("stretch tree of depth %d\t check: %ld\n", stretch, check_new(stretch));

    Node *long_lived = make(max_depth);
    for (int depth = min_depth; depth <= max_depth; depth += 2) {
        long iterations = 1L << (max_depth - depth + min_depth);
        long sum = 0;
        for (long i = 0; i < iterations; i++)
            sum += check_new(depth);
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, depth, sum);
    }
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, check(long_lived));
    release(long_lived);
    return 0;
}
