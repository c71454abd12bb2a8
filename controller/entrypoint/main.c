/* tektite-entrypoint: placeholder until the in-pod entrypoint lands. */
#include <stdio.h>

int main(void)
{
    return 0;
}
