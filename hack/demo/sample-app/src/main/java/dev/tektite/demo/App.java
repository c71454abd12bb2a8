package dev.tektite.demo;

import com.google.gson.Gson;
import org.apache.commons.lang3.StringUtils;

/** Prints one JSON line: the greeting and who built it. */
public final class App {
    static final String GREETING = "hello from tektite";

    /** Serialised by Gson in field order. */
    static final class Message {
        final String greeting;
        final String builtBy;

        Message(String greeting, String builtBy) {
            this.greeting = greeting;
            this.builtBy = builtBy;
        }
    }

    private App() {}

    static String message(String who) {
        return new Gson().toJson(new Message(StringUtils.capitalize(GREETING),
                StringUtils.defaultIfBlank(who, "kaniko")));
    }

    public static void main(String[] args) {
        System.out.println(message(args.length > 0 ? args[0] : ""));
    }
}
