/* tektite-controller: placeholder main until the controller module lands. */
#include <stdio.h>

int main(void)
{
    puts("tektite-controller " TEKTITE_VERSION);
    return 0;
}
