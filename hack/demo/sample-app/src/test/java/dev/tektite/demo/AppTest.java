package dev.tektite.demo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AppTest {
    @Test
    void messageCapitalisesTheGreeting() {
        assertTrue(App.message("").contains("\"greeting\":\"Hello"), App.message(""));
    }

    @Test
    void messageNamesTheBuilderWhenGiven() {
        assertTrue(App.message("me").contains("\"builtBy\":\"me\""), App.message("me"));
    }
}
